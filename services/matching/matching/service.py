"""Entrypoints of the matching service: the events it consumes, RPC for the gateway, and the
outbox relay."""

from nameko.extensions import DependencyProvider
from nameko.timer import timer

from matching.domain import GrownLists
from matching.handlers import Matching, Rematch
from matching.store import MatchingStore

# imported as a module: `nameko run` would take a class named here for a service of its own
from shared import deadletters, metrics
from shared.caller_assertions import require_vouched
from shared.errors import EXPECTED, Invalid
from shared.inbox import Inbox
from shared.messaging import MessageSubjects, on_events
from shared.mongo import Store
from shared.outbox import Outbox
from shared.rpc import rpc
from shared.settings import Settings

SERVICE = "matching"
PARTY_KINDS = ("company", "investor")


class GrownListsProvider(DependencyProvider):
    """Hands out the process's one ``GrownLists``, which its workers share."""

    def setup(self) -> None:
        self.grown_lists = GrownLists(Settings.from_env().matching_top_n)

    def get_dependency(self, worker_ctx: object) -> GrownLists:
        return self.grown_lists


class MatchingService(deadletters.DeadLetterRpc, metrics.IoCountsRpc):
    name = SERVICE

    store: MatchingStore = Store(SERVICE, MatchingStore)
    inbox: Inbox = Store(SERVICE, Inbox)
    subjects: list = MessageSubjects()
    # suggestions held events in their own outboxes before version 2 of matching.suggested:
    # any such event left unpublished by an upgrade is still relayed
    outbox = Outbox(SERVICE, ("parties", "suggestions", "interests"))
    grown_lists: GrownLists = GrownListsProvider()

    def __init__(self) -> None:
        self.settings = Settings.from_env()

    @property
    def matching(self) -> Matching:
        return Matching(self.store, self.outbox, self.inbox, self.grown_lists, self.settings.matching_top_n)

    @property
    def rematch(self) -> Rematch:
        return Rematch(self.store, self.settings.matching_top_n, self.settings.matching_rematch_minutes)

    @on_events(SERVICE)
    def handle_event(self, body: dict) -> None:
        matching = self.matching
        self.inbox.process(
            body,
            {
                "registration.profile_changed": matching.profile_changed,
                "registration.erased": matching.erased,
            },
            self.subjects,
        )

    @rpc(expected_exceptions=EXPECTED)
    def suggestions(self, kind: str, party_id: str, caller: str, limit: int = 50) -> list[dict]:
        """The party's suggestions, best first, for the party or an organiser as the gateway
        vouches (``caller``); anyone else is Forbidden, as in express_interest and answer_interest
        (an error, not an empty list that would read as "no suggestions")."""
        require_vouched(caller, self.settings.caller_signing_key, party_id)
        if kind not in PARTY_KINDS:
            raise Invalid("Suggestions exist for companies and investors only.")
        return self.matching.suggestions(kind, party_id, max(1, min(int(limit), 200)))

    @rpc(expected_exceptions=EXPECTED)
    def express_interest(self, investor_id: str, company_id: str, caller: str) -> dict:
        """For the investor, as the gateway vouches (``caller``)."""
        require_vouched(caller, self.settings.caller_signing_key, investor_id)
        interest, created = self.matching.express_interest(investor_id, company_id)
        return {**interest, "created": created}

    @rpc(expected_exceptions=EXPECTED)
    def answer_interest(self, company_id: str, investor_id: str, accept: bool, caller: str) -> dict:
        """For the company, as the gateway vouches (``caller``)."""
        require_vouched(caller, self.settings.caller_signing_key, company_id)
        return self.matching.answer_interest(company_id, investor_id, bool(accept))

    @rpc
    def stats(self) -> dict:
        return {
            **self.store.counts(),
            "dead_letters": self.inbox.count_parked(),
            "outbox_pending": self.outbox.pending(),
        }

    @rpc
    def health(self) -> dict:
        self.inbox.count_parked()
        return {"service": SERVICE, "status": "ok"}

    @timer(interval=1.0)
    def relay_outbox(self) -> None:
        self.outbox.sweep()

    @timer(interval=1.0)
    def raise_floors(self) -> None:
        self.matching.raise_floors()

    @timer(interval=60.0)
    def rematch_when_due(self) -> None:
        self.rematch.run_if_due()
