"""What the notification service does for each event, and how a notification is delivered.
Called by the thin entrypoints in ``service.py``."""

import logging
from collections.abc import Mapping

import eventlet
from pymongo.errors import PyMongoError

from notification import domain
from notification.mailer import PermanentFailure, SmtpMailer
from notification.store import NotificationStore
from shared import clock
from shared.contracts.events import Event
from shared.inbox import Inbox
from shared.settings import Settings

log = logging.getLogger(__name__)

# how long to wait before looking again for a recipient whose contact has not arrived yet
RECIPIENT_RECHECK_SECONDS = 2.0
# pauses between attempts to record that an e-mail was sent, riding out a store outage of up to
# about a minute (claiming the e-mail again needs the store too)
RECORD_RETRY_SECONDS = (0.5, 1, 2, 4, 8, 15, 30)


class Notifier:
    def __init__(
        self, store: NotificationStore, inbox: Inbox, mailer: SmtpMailer, settings: Settings
    ) -> None:
        self.store = store
        self.inbox = inbox
        self.mailer = mailer
        self.retry_base_seconds = settings.smtp_retry_base_seconds
        self.site = {
            "base_url": settings.public_base_url,
            "expo_name_ko": settings.default_expo_name_ko,
            "expo_name_en": settings.default_expo_name_en,
        }

    # events

    def registration_changed(self, event: Event) -> None:
        """registration.created and .updated: keep the contact; confirm a new registration."""
        self._contact_changed(event, "active")

    def registration_cancelled(self, event: Event) -> None:
        self._contact_changed(event, "cancelled")

    def _contact_changed(self, event: Event, status: str) -> None:
        payload = event.payload
        contact = {"kind": payload["kind"], "status": status, **payload["contact"]}
        stored = self.store.put_contact(payload["registration_id"], payload["revision"], contact)
        # a contact this event stored is the newest: no need to read it back to send
        fresh = {payload["registration_id"]: {**contact, "registration_id": payload["registration_id"]}}
        self.notify(event, fresh if stored else {})

    def registration_erased(self, event: Event) -> None:
        payload = event.payload
        self.store.erase_recipient(payload["registration_id"], payload["revision"])
        self.inbox.forget_about(payload["registration_id"])

    def notify(self, event: Event, fresh_contacts: Mapping[str, dict] | None = None) -> None:
        """Record the notifications ``event`` calls for, once each, and send them now.
        ``fresh_contacts`` are the contacts this event itself has just stored."""
        fresh_contacts = fresh_contacts or {}
        for planned in domain.plan(event):
            now = clock.now_iso()
            notification = {
                "_id": planned.id,
                "recipient_id": planned.recipient_id,
                "kind": planned.kind,
                "event_id": event.event_id,
                "data": planned.data,
                "attempts": 0,
                "created_at": now,
                "updated_at": now,
            }
            # recorded already leased to this worker: sent now, without claiming it first
            leased = self.store.add_leased(notification)
            if leased is None:
                self.deliver(planned.id)  # recorded by an earlier attempt: sent if still due
                continue
            # checked after recording: an erasure handled meanwhile has not deleted this one
            erased, contact = self.store.recipient(planned.recipient_id)
            if erased:
                self.store.remove(planned.id)
            else:
                self._send(leased, fresh_contacts.get(planned.recipient_id) or contact)

    # delivery

    def deliver_due(self, limit: int = 100) -> int:
        """Send the notifications that are due (retries, and sends a crash interrupted)."""
        delivered = 0
        for due in self.store.due(limit):
            notification = self.store.claim(due)
            if notification is not None:  # another worker may have leased it first
                self._send(notification)
                delivered += 1
        return delivered

    def deliver(self, notification_id: str) -> None:
        """Send one notification if it is due."""
        due = self.store.due_one(notification_id)
        notification = self.store.claim(due) if due else None
        if notification is not None:
            self._send(notification)

    def _send(self, notification: dict, contact: dict | None = None) -> None:
        """Send a notification leased to this worker, and record how it went."""
        contact = contact or self.store.contact(notification["recipient_id"])
        if contact is None:
            self._wait_for_recipient(notification)
            return
        attempts = notification["attempts"] + 1
        try:
            subject, body = domain.render(notification["kind"], notification["data"], contact, self.site)
            self.mailer.send(
                to_name=contact["name"],
                to_address=contact["email"],
                subject=subject,
                body=body,
                message_id=domain.message_id(notification["_id"]),
                language=contact["language"],
            )
        except PermanentFailure as error:
            log.warning("notification refused for good", extra={"notification_id": notification["_id"]})
            self.store.mark_failed(notification["_id"], attempts, str(error))
        except Exception as error:  # a relay outage, or anything unforeseen: retry, then give up
            if attempts >= domain.MAX_SEND_ATTEMPTS:
                self.store.mark_failed(notification["_id"], attempts, _describe(error))
                log.warning(
                    "notification failed after its last attempt",
                    extra={"notification_id": notification["_id"], "attempt": attempts},
                )
            else:
                delay = domain.retry_delay(attempts, self.retry_base_seconds)
                self.store.mark_retry(notification["_id"], attempts, delay, _describe(error))
                log.warning(
                    "notification not sent; will retry",
                    extra={"notification_id": notification["_id"], "attempt": attempts},
                )
        else:
            self._record_sent(notification["_id"], subject, body, attempts)

    def _record_sent(self, notification_id: str, subject: str, body: str, attempts: int) -> None:
        """Record a sent e-mail, waiting out a store outage: left unrecorded, it would be sent
        again when its lease ends."""
        for delay in RECORD_RETRY_SECONDS:
            try:
                self.store.mark_sent(notification_id, subject, body, attempts)
                return
            except PyMongoError:
                log.warning("could not record a sent e-mail yet", extra={"notification_id": notification_id})
                eventlet.sleep(delay)
        self.store.mark_sent(notification_id, subject, body, attempts)

    def _wait_for_recipient(self, notification: dict) -> None:
        waited = clock.parse_iso(clock.now_iso()) - clock.parse_iso(notification["created_at"])
        if waited.total_seconds() > domain.RECIPIENT_WAIT_SECONDS:
            self.store.mark_failed(notification["_id"], notification["attempts"], "recipient unknown")
        else:
            self.store.mark_retry(
                notification["_id"],
                notification["attempts"],
                RECIPIENT_RECHECK_SECONDS,
                "waiting for the recipient's contact",
            )

    # reading

    def notifications_of(self, recipient_id: str, limit: int) -> list[dict]:
        contact = self.store.contact(recipient_id)
        items = []
        for document in self.store.of_recipient(recipient_id, limit):
            subject, body = document.get("subject"), document.get("body")
            if subject is None and contact is not None:
                subject, body = domain.render(document["kind"], document["data"], contact, self.site)
            items.append(
                {
                    "id": document["_id"],
                    "kind": document["kind"],
                    "status": document["status"],
                    "attempts": document["attempts"],
                    "created_at": document["created_at"],
                    "sent_at": document.get("sent_at"),
                    "subject": subject,
                    "body": body,
                }
            )
        return items


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:1000]
