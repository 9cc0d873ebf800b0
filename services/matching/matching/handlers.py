"""What the matching service does for each event and request, in terms of its store and
domain. Called by the thin entrypoints in ``service.py``."""

import logging
import time

from eventlet import tpool

from matching import domain
from matching.store import ANNOUNCED, COUNTERPART_FIELD, COUNTERPART_KIND, MatchingStore
from shared import clock
from shared.contracts.events import MAX_SUGGESTIONS_PER_EVENT, Event, derived_id, new_event
from shared.errors import Conflict, NotFound
from shared.inbox import Inbox
from shared.outbox import OutboxRelay

log = logging.getLogger(__name__)

# floors worked out again per call of ``raise_floors`` (once a second)
FLOORS_PER_CALL = 50


class Matching:
    def __init__(
        self,
        store: MatchingStore,
        relay: OutboxRelay,
        inbox: Inbox,
        grown_lists: domain.GrownLists,
        top_n: int,
    ) -> None:
        self.store = store
        self.inbox = inbox
        self.relay = relay
        self.grown_lists = grown_lists
        self.top_n = top_n

    def profile_changed(self, event: Event) -> None:
        """Bring the party and its suggestions up to the event's revision.

        The party is stored, and entered under its tags, before its counterparts are read: of
        two parties changing at the same moment, at least one then sees the other, so no pair
        is missed. Every pair worth keeping (``domain.select``) that is not stored yet is
        announced, to each side it is worth telling, in one event staged in the party's outbox;
        then the kept pairs replace the party's stored pairs in one bulk write. Staged first, a
        retried event announces what an interrupted attempt did not; a pair two handlers store
        at once may be announced by both (notification announces a pair once). The counterparts
        whose lists this grew are noted, for their floors to be worked out again. An older
        revision than the stored one is ignored.
        """
        change = event.payload
        party_id, kind = change["registration_id"], change["kind"]
        current = self.store.party(party_id)
        if current is not None and (
            current["status"] == "erased" or current["revision"] > change["revision"]
        ):
            return
        first_seen = current is None
        if current is None or current["revision"] < change["revision"]:
            current = self.store.put_party(
                current,
                {
                    "id": party_id,
                    "kind": kind,
                    "revision": change["revision"],
                    "status": "active" if change["active"] else "inactive",
                    "tags": change["tags"],
                    "stages": change["stages"],
                },
            )
        # also when the party was stored by an earlier attempt that stopped before this
        self.store.index_tags(current, new=first_seen)
        if not change["active"]:
            self.store.remove_suggestions_of(kind, party_id)
            return

        party = domain.Profile(party_id, kind, tuple(current["tags"]), tuple(current["stages"]))
        counterparts = self.store.counterparts_sharing(kind, party.tags)
        if first_seen and not counterparts:
            # nothing to suggest, and a party new to matching has no suggestions to withdraw
            return
        stored = {doc["_id"]: doc for doc in self.store.suggestions_of(kind, party_id)}
        selection = domain.select(party, counterparts, self.store.tag_weights(), self.top_n, stored)
        latest = self.store.party(party_id)
        if latest is None or latest["revision"] != change["revision"] or latest["status"] != "active":
            return  # a newer change of this party arrived while scoring: its handler decides
        # a pair an earlier version stored is marked "no" until it was announced
        new = [
            item
            for item in selection.kept
            if item.match.id not in stored or stored[item.match.id].get(ANNOUNCED) == "no"
        ]
        if new:
            self.store.stage_party_events(latest, _announcements(event, party, new))
        self.store.store_pairs(stored, selection.kept)
        self.store.set_floor(latest, selection.floor)
        grown = [item.match.counterpart_of(party_id) for item in new if item.for_counterpart]
        self.grown_lists.note(COUNTERPART_KIND[kind], grown)
        if new:
            self.relay.flush("parties", party_id)

    def raise_floors(self, limit: int = FLOORS_PER_CALL) -> int:
        """Work out again the floor of at most ``limit`` parties whose lists have grown enough
        (see ``domain.GrownLists``), from their best stored pairs: as a list fills, pairs that
        cannot be among its best are no longer stored for it. Returns how many were worked out.
        The limit bounds the store round trips this costs a second (three a party), however
        many counterparts the changes meanwhile reached.

        A pair of a list scores at most its party's N-th best, so the N-th best stored is never
        above the true one: a floor raised this way never turns away a pair that belongs."""
        due = self.grown_lists.take_due(limit)
        for kind, party_id in due:
            party = self.store.party(party_id)
            if party is None or party["status"] != "active":
                self.grown_lists.forget(party_id)
                continue
            scores = self.store.best_scores(kind, party_id, self.top_n)
            self.store.set_floor(party, domain.floor_of(scores, self.top_n))
            self.grown_lists.worked_out(party_id, len(scores))
        return len(due)

    def erased(self, event: Event) -> None:
        change = event.payload
        party_id = change["registration_id"]
        # whatever its kind, messages about the person that this service parked go too
        self.inbox.forget_about(party_id)
        if change["kind"] not in COUNTERPART_FIELD:
            return
        current = self.store.party(party_id)
        tombstone = {
            "id": party_id,
            "kind": change["kind"],
            "revision": change["revision"],
            "status": "erased",
            "tags": [],
            "stages": [],
        }
        if current is None or current["status"] != "erased":
            self.store.put_party(current, tombstone)
        self.store.forget_party(change["kind"], party_id)

    def suggestions(self, kind: str, party_id: str, limit: int) -> list[dict]:
        interests = self.store.interests_of(kind, party_id)
        counterpart_field = COUNTERPART_FIELD[kind]
        items = []
        for doc in self.store.suggestions_of(kind, party_id, limit):
            interest = interests.get(doc["_id"])
            items.append(
                {
                    counterpart_field: doc[counterpart_field],
                    "score": doc["score"],
                    "reasons": [domain.explained(reason) for reason in doc["reasons"]],
                    "suggested_at": doc["created_at"],
                    "interest": interest["status"] if interest else None,
                }
            )
        return items

    def express_interest(self, investor_id: str, company_id: str) -> tuple[dict, bool]:
        """Record an investor's interest in a company; returns it and whether it is new."""
        if not self.store.is_active(investor_id, "investor"):
            raise NotFound("No active investor with that id (a new registration may take a moment).")
        if not self.store.is_active(company_id, "company"):
            raise NotFound("No active company with that id (a new registration may take a moment).")
        interest_id = domain.pair_id(investor_id, company_id)
        existing = self.store.interest(interest_id)
        if existing is not None:
            return _interest_view(existing), False
        # an investor may approach the companies suggested to it, not every registered one
        if self.store.suggestion(interest_id) is None:
            raise NotFound("That company is not among this investor's suggestions.")
        document = {
            "_id": interest_id,
            "investor_id": investor_id,
            "company_id": company_id,
            "status": "pending",
            "created_at": clock.now_iso(),
        }
        event = new_event(
            "matching.interest_expressed",
            {"interest_id": interest_id, "investor_id": investor_id, "company_id": company_id},
        )
        stored = self.store.add_interest(document, [event])
        self.relay.flush("interests", interest_id)
        return _interest_view(stored), True

    def answer_interest(self, company_id: str, investor_id: str, accept: bool) -> dict:
        interest_id = domain.pair_id(investor_id, company_id)
        current = self.store.interest(interest_id)
        if current is None:
            raise NotFound("That investor has not expressed interest in this company.")
        status = "accepted" if accept else "declined"
        if current["status"] == status:
            return _interest_view(current)
        if current["status"] != "pending":
            raise Conflict(f"This interest was already {current['status']}.")
        event = new_event(
            "matching.interest_answered",
            {
                "interest_id": interest_id,
                "investor_id": investor_id,
                "company_id": company_id,
                "accepted": accept,
            },
        )
        answered = {**current, "status": status, "answered_at": clock.now_iso()}
        stored = self.store.save_interest(answered, [event])
        self.relay.flush("interests", interest_id)
        return _interest_view(stored)


class Rematch:
    """Brings every stored score, pair and floor up to date as tag rarity drifts, announcing
    nothing. One runs at a time across every instance (a lease in the store)."""

    def __init__(self, store: MatchingStore, top_n: int, every_minutes: float) -> None:
        self.store = store
        self.top_n = top_n
        self.every_seconds = every_minutes * 60

    def run_if_due(self) -> dict | None:
        """Rematch if the last one is older than the interval; None if not due or running."""
        return self._run() if self.store.claim_rematch() else None

    def run_now(self) -> dict | None:
        """Rematch now; None if another rematch is running."""
        return self._run() if self.store.claim_rematch(force=True) else None

    def _run(self) -> dict:
        started = time.monotonic()
        try:
            parties = self.store.active_parties()
            profiles = [
                domain.Profile(p["_id"], p["kind"], tuple(p["tags"]), tuple(p["stages"])) for p in parties
            ]
            companies = [profile for profile in profiles if profile.kind == "company"]
            investors = [profile for profile in profiles if profile.kind == "investor"]
            # scoring every pair holds the processor for a while: in a thread of its own, the
            # service's other workers and its broker heartbeats go on meanwhile
            rematched = tpool.execute(
                domain.rematch, companies, investors, self.store.tag_weights(fresh=True), self.top_n
            )
            counts = self.store.apply_rematch(rematched, parties)
        except BaseException:
            self.store.release_rematch()
            raise
        self.store.rematch_done(self.every_seconds)
        seconds = round(time.monotonic() - started, 2)
        log.info("rematch done", extra={**counts, "parties": len(parties), "seconds": seconds})
        return {**counts, "parties": len(parties), "seconds": seconds}


def _announcements(cause: Event, party: domain.Profile, pairs: list[domain.Kept]) -> list[dict]:
    """The events telling each side of ``pairs`` (new pairs of ``party``) of them: one event,
    or one per MAX_SUGGESTIONS_PER_EVENT suggestions."""
    counterpart_kind = COUNTERPART_KIND[party.kind]
    suggestions = []
    for item in pairs:
        match = item.match
        counterpart = match.counterpart_of(party.id)
        told = {"score": match.score, "shared_tags": match.shared_tags}
        if item.for_party:
            suggestions.append(
                {
                    "recipient_id": party.id,
                    "recipient_kind": party.kind,
                    "counterpart_id": counterpart,
                    **told,
                }
            )
        if item.for_counterpart:
            suggestions.append(
                {
                    "recipient_id": counterpart,
                    "recipient_kind": counterpart_kind,
                    "counterpart_id": party.id,
                    **told,
                }
            )
    chunks = [
        suggestions[start : start + MAX_SUGGESTIONS_PER_EVENT]
        for start in range(0, len(suggestions), MAX_SUGGESTIONS_PER_EVENT)
    ]
    # named after what they announce: a retry that finds other pairs new stages another event
    return [
        new_event(
            "matching.suggested",
            {"party_id": party.id, "suggestions": chunk},
            event_id=derived_id(cause.event_id, "suggested", *map(_announced_pair, chunk)),
            version=2,
        )
        for chunk in chunks
    ]


def _announced_pair(suggestion: dict) -> str:
    return f"{suggestion['recipient_id']}>{suggestion['counterpart_id']}"


def _interest_view(document: dict) -> dict:
    view = {key: document[key] for key in ("investor_id", "company_id", "status", "created_at")}
    return {"interest_id": document["_id"], **view, "answered_at": document.get("answered_at")}
