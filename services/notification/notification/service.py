"""Entrypoints of the notification service: the events it consumes, RPC for the gateway, the
timer that sends what is due (digests, reminders, notices of a changed event, and retries after
a mail relay failure), the one that plans the reminders of tomorrow's events, and the one that
deletes the records of sign-in e-mails after a day."""

from nameko.extensions import DependencyProvider
from nameko.timer import timer

from notification.handlers import Notifier
from notification.mailer import SmtpMailer
from notification.store import NotificationStore

# imported as a module: `nameko run` would take a class named here for a service of its own
from shared import deadletters, metrics
from shared.caller_assertions import require_vouched
from shared.errors import EXPECTED
from shared.inbox import Inbox
from shared.messaging import MessageSubjects, on_events
from shared.mongo import Store
from shared.rpc import rpc
from shared.settings import Settings

SERVICE = "notification"
# how often old sign-in records are looked for: one is kept at most this much beyond its day
SIGN_IN_PURGE_SECONDS = 600
# how often what has outlived its retention is looked for
RETENTION_SWEEP_SECONDS = 3600
# how often reminders due are looked for: one read of the events when none is
REMINDER_CHECK_SECONDS = 60


class Mailer(DependencyProvider):
    def setup(self) -> None:
        self.mailer = SmtpMailer(Settings.from_env())

    def stop(self) -> None:
        self.mailer.close()

    def get_dependency(self, worker_ctx: object) -> SmtpMailer:
        return self.mailer


class NotificationService(deadletters.DeadLetterRpc, metrics.IoCountsRpc):
    name = SERVICE

    store: NotificationStore = Store(SERVICE, NotificationStore)
    inbox: Inbox = Store(SERVICE, Inbox)
    subjects: list = MessageSubjects()
    mailer: SmtpMailer = Mailer()

    def __init__(self) -> None:
        self.settings = Settings.from_env()

    @property
    def notifier(self) -> Notifier:
        return Notifier(self.store, self.inbox, self.mailer, self.settings)

    @on_events(SERVICE)
    def handle_event(self, body: dict) -> None:
        self.inbox.process(body, self._handlers(), self.subjects)

    @on_events(SERVICE, "matches")
    def handle_match(self, body: dict) -> None:
        """matching's events, from a queue of their own: not held up behind confirmations."""
        self.inbox.process(body, self._handlers(), self.subjects)

    @on_events(SERVICE, "sign_in")
    def handle_sign_in(self, body: dict) -> None:
        """Sign-in links, from a queue of their own: someone is waiting at a screen for one."""
        self.inbox.process(body, self._handlers(), self.subjects)

    def _handlers(self) -> dict:
        notifier = self.notifier
        # every type on both queues: a replayed dead letter comes back on the main one
        return {
            "registration.created": notifier.registration_changed,
            "registration.updated": notifier.registration_changed,
            "registration.cancelled": notifier.registration_cancelled,
            "registration.erased": notifier.registration_erased,
            "registration.contact_refreshed": notifier.contact_refreshed,
            "registration.programme_event_changed": notifier.programme_event_changed,
            "registration.sign_in_link_requested": notifier.notify,
            "matching.suggested": notifier.suggested,
            "matching.interest_expressed": notifier.notify,
            "matching.interest_answered": notifier.notify,
        }

    # each for the recipient or an organiser, as the gateway vouches (``caller``)

    @rpc(expected_exceptions=EXPECTED)
    def inbox_of(self, recipient_id: str, caller: str, limit: int = 50) -> list[dict]:
        require_vouched(caller, self.settings.caller_signing_key, recipient_id)
        return self.notifier.notifications_of(recipient_id, max(1, min(int(limit), 200)))

    @rpc(expected_exceptions=EXPECTED)
    def preferences(self, recipient_id: str, caller: str) -> dict:
        require_vouched(caller, self.settings.caller_signing_key, recipient_id)
        return self.notifier.preferences_of(recipient_id)

    @rpc(expected_exceptions=EXPECTED)
    def set_preferences(
        self, recipient_id: str, preferences: dict, caller: str, create: bool = False
    ) -> dict:
        """``create``: the recipient exists (a registrant with their own token), so a preference
        may be kept before their contact arrives."""
        require_vouched(caller, self.settings.caller_signing_key, recipient_id)
        return self.notifier.set_preferences(recipient_id, preferences, create=bool(create))

    @rpc(expected_exceptions=EXPECTED)
    def unsubscribe(self, token: str) -> dict:
        """RFC 8058 one-click unsubscribe from suggestion e-mails, by the link's signed token."""
        return self.notifier.unsubscribe(token)

    @rpc
    def stats(self) -> dict:
        return {"notifications": self.store.count_by_status(), "dead_letters": self.inbox.count_parked()}

    @rpc
    def health(self) -> dict:
        self.inbox.count_parked()
        return {"service": SERVICE, "status": "ok"}

    @timer(interval=1.0)
    def send_due(self) -> None:
        self.notifier.deliver_due()

    # eager: an instance started after the hour plans what is due at once
    @timer(interval=REMINDER_CHECK_SECONDS, eager=True)
    def plan_reminders(self) -> None:
        self.notifier.plan_reminders()

    @timer(interval=SIGN_IN_PURGE_SECONDS)
    def purge_sign_in_records(self) -> None:
        self.notifier.purge_sign_in_records()

    @timer(interval=RETENTION_SWEEP_SECONDS)
    def purge_finished(self) -> None:
        self.notifier.purge_finished()
