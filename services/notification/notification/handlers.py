"""What the notification service does for each event, and how a notification is delivered;
the suggestions announced to each person, their digest e-mails, and e-mail preferences; sign-in
e-mails, and their purge. Called by the thin entrypoints in ``service.py``."""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import eventlet
from pymongo.errors import PyMongoError

from notification import domain
from notification.mailer import PermanentFailure, SmtpMailer
from notification.store import NotificationStore
from shared import clock
from shared.contracts.events import Event
from shared.errors import Invalid, NotFound
from shared.inbox import Inbox
from shared.logs import error_summary, scrubbed
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
        self.retention_days = settings.notification_retention_days
        self.digest_window_minutes = settings.suggestion_digest_minutes
        self.daily_hour = settings.suggestion_daily_hour
        self.reminder_hour = settings.reminder_hour
        self.site = {
            "base_url": settings.public_base_url,
            "expo_name_ko": settings.default_expo_name_ko,
            "expo_name_en": settings.default_expo_name_en,
        }

    # events

    def registration_changed(self, event: Event) -> None:
        """registration.created and .updated: keep the contact; confirm a new registration, or
        tell of a change."""
        self._contact_changed(event, "active")

    def registration_cancelled(self, event: Event) -> None:
        self._contact_changed(event, "cancelled")

    def contact_refreshed(self, event: Event) -> None:
        """registration.contact_refreshed: bring up to date a contact an earlier version kept
        with less (no event, admission or badge), at the revision it has; nothing is e-mailed."""
        payload = event.payload
        contact = domain.contact_record(event, "active")
        self.store.put_contact(payload["registration_id"], payload["revision"], contact, refresh=True)

    def _contact_changed(self, event: Event, status: str) -> None:
        payload = event.payload
        contact = domain.contact_record(event, status)
        stored = self.store.put_contact(payload["registration_id"], payload["revision"], contact)
        # a contact this event stored is the newest: no need to read it back to send
        fresh = {payload["registration_id"]: {**contact, "registration_id": payload["registration_id"]}}
        self.notify(event, fresh if stored else {})

    def registration_erased(self, event: Event) -> None:
        payload = event.payload
        self.store.erase_recipient(payload["registration_id"], payload["revision"])
        self.inbox.forget_about(payload["registration_id"])

    def programme_event_changed(self, event: Event) -> None:
        """registration.programme_event_changed: keep the event as it is now; tell everyone
        registered for it of a cancellation or a move (the timer sends these within a second)."""
        payload = event.payload
        event_id = payload["programme_event_id"]
        self.store.put_programme_event(event_id, payload["revision"], domain.programme_event_record(payload))
        if payload["changes"]:
            contacts = self.store.contacts_of_event(event_id)
            self.store.add_queued(domain.change_notifications(event, contacts, clock.now_iso()))

    def plan_reminders(self) -> int:
        """Record the reminders due now (of the events starting tomorrow, from REMINDER_HOUR
        Seoul time), each once whichever instance plans it; the timer sends them. How many were
        new. One read of the events when none is due."""
        now = datetime.now(UTC)
        planned = 0
        for programme_event in domain.reminders_due(self.store.programme_events(), now, self.reminder_hour):
            contacts = self.store.contacts_of_event(programme_event["_id"])
            reminders = domain.reminder_notifications(programme_event, contacts, clock.to_iso(now))
            planned += self.store.add_queued(reminders)
            self.store.mark_reminded(programme_event["_id"], programme_event["starts_at"])
        return planned

    def notify(self, event: Event, fresh_contacts: Mapping[str, dict] | None = None) -> None:
        """Record the notifications ``event`` calls for, once each, and send them now.
        ``fresh_contacts`` are the contacts this event itself has just stored."""
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
            if planned.counterpart_id is not None:
                notification["counterpart_id"] = planned.counterpart_id
            # recorded already leased to this worker: sent now, without claiming it first
            leased = self.store.add_leased(notification)
            if leased is None:
                self.deliver(planned.id)  # recorded by an earlier attempt: sent if still due
                continue
            self._send(leased, fresh_contacts)

    def suggested(self, event: Event) -> None:
        """matching.suggested (version 1 or 2): announce each new pair to its recipient once,
        in-app at once, and see that a digest e-mail will tell of it, as the recipient chose.

        The store round trips are the same however many suggestions the event holds: one
        write for the announcements, one read of the people named, one write for the digests
        (and, only when some were there before, one read of those and one delete)."""
        announced_at = clock.now_iso()
        documents = [
            domain.announcement(suggestion, event.event_id, announced_at)
            for suggestion in domain.new_suggestions(event)
        ]
        duplicates = self.store.announce(documents)
        new = [document for document in documents if document["_id"] not in duplicates]
        if duplicates:
            # a pair announced before by another event was told of then: never again, whatever
            # its score or tags now. One this very event announced, in an attempt cut short,
            # may still want its digest.
            new += [
                document
                for document in self.store.announcements(duplicates)
                if document["event_id"] == event.event_id and document.get("digest_id") is None
            ]
        if not new:
            return
        # read after recording, as in ``notify``: an erasure handled meanwhile has not deleted
        # these, so they are deleted here. Nothing is told to, or of, an erased person.
        people = self.store.contact_documents(
            {document["recipient_id"] for document in new} | {document["counterpart_id"] for document in new}
        )
        erased = {person for person, document in people.items() if document.get("status") == "erased"}
        if erased:
            gone = {d["_id"] for d in new if d["recipient_id"] in erased or d["counterpart_id"] in erased}
            self.store.remove_announcements(gone)
            new = [document for document in new if document["_id"] not in gone]
        recipients = {
            document["recipient_id"]: domain.COUNTERPART_KIND[document["counterpart_kind"]]
            for document in new
        }
        self._schedule_digests(recipients, people, event.event_id)

    def _schedule_digests(
        self, recipients: Mapping[str, str], people: Mapping[str, dict], event_id: str
    ) -> None:
        """Record the digest that will tell each of ``recipients`` (id: kind) of their new
        suggestions, as their preference in ``people`` (contact documents) says, in one write.
        A digest already recorded for that window is left as it is: it takes every suggestion
        not yet e-mailed when it is sent. The timer sends those due (within a second)."""
        now = datetime.now(UTC)
        stamp = clock.to_iso(now)
        digests = []
        for recipient_id, recipient_kind in recipients.items():
            person = people.get(recipient_id, {})
            if person.get("status") in ("erased", "cancelled"):
                continue
            last_sent, registered_at = person.get("last_suggestion_email_at"), person.get("registered_at")
            digest = domain.next_digest(
                person.get("suggestion_emails") or domain.DEFAULT_PREFERENCE,
                recipient_id,
                now=now,
                last_sent=clock.parse_iso(last_sent) if last_sent else None,
                registered_at=clock.parse_iso(registered_at) if registered_at else None,
                window_minutes=self.digest_window_minutes,
                daily_hour=self.daily_hour,
                event_id=event_id,
            )
            if digest is None:  # suggestion e-mails off: the suggestions stay in-app
                continue
            digests.append(
                {
                    "_id": digest.id,
                    "recipient_id": recipient_id,
                    "kind": domain.DIGEST_KIND,
                    "event_id": event_id,
                    "data": {"recipient_kind": recipient_kind},
                    "attempts": 0,
                    "status": "queued",
                    "due_at": clock.to_iso(digest.due_at),
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        self.store.add_digests(digests)

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

    def _send(self, notification: dict, fresh_contacts: Mapping[str, dict] | None = None) -> None:
        """Send a notification leased to this worker, and record how it went.
        ``fresh_contacts`` are contacts the event being handled has just stored."""
        now = datetime.now(UTC)
        counterpart = None
        if notification["kind"] == domain.SIGN_IN_KIND:
            # to the address that asked, which is in the notification until it is sent
            contact = domain.addressee(notification["data"])
            if domain.link_expired(notification["data"]["expires_at"], now):
                self._give_up(notification, notification["attempts"], "the link expired before it was sent")
                return
        else:
            people = self._people(notification, fresh_contacts or {})
            if people is None:
                return
            contact, counterpart = people
        digest = notification["kind"] == domain.DIGEST_KIND
        extra_headers, footer, attached = None, "", []
        programme_event = self._programme_event(notification, contact)
        if not domain.still_to_send(notification["kind"], contact, programme_event, now):
            self.store.mark_skipped(notification["_id"], "the person or the event changed meanwhile")
            return
        if digest:
            content = self._digest_content(notification, contact)
            if content is None:
                self.store.mark_skipped(notification["_id"], "nothing to tell, or suggestion e-mails off")
                return
            subject, body, footer, extra_headers = content
        attempts = notification["attempts"] + 1
        try:
            if not digest:
                subject, body = domain.render(
                    notification["kind"],
                    notification["data"],
                    contact,
                    self.site,
                    counterpart=counterpart,
                    now=now,
                    programme_event=programme_event,
                )
                attached = domain.attachments(notification["kind"], contact, programme_event, self.site, now)
            self.mailer.send(
                to_name=contact["name"],
                to_address=contact["email"],
                subject=subject,
                # the unsubscribe link is in the e-mail only, not in the copy kept for the inbox
                body=body + footer,
                message_id=domain.message_id(notification["_id"]),
                language=contact["language"],
                headers=extra_headers,
                attachments=attached,
            )
        except PermanentFailure as error:
            log.warning("notification refused for good", extra={"notification_id": notification["_id"]})
            # the relay's own words say why; an address it quotes is scrubbed
            self._give_up(notification, attempts, scrubbed(str(error)))
        except Exception as error:  # a relay outage, or anything unforeseen: retry, then give up
            if attempts >= domain.MAX_SEND_ATTEMPTS:
                self._give_up(notification, attempts, _describe(error))
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
            self._record_sent(notification, subject, body, attempts)
            if digest:
                self._digest_sent(notification, contact)

    def _people(
        self, notification: dict, fresh_contacts: Mapping[str, dict]
    ) -> tuple[dict, dict | None] | None:
        """The contacts of the notification's recipient and of the counterpart it names (None
        if it names none). None when either was erased (the notification is then deleted:
        nothing is sent to, or told of, an erased person) or is not known yet (it then waits).

        Read after the notification was recorded: an erasure handled meanwhile has not deleted
        it, so it is deleted here."""
        erased, contact = self.store.recipient(notification["recipient_id"])
        counterpart_id = notification.get("counterpart_id")
        counterpart_erased, counterpart = (
            self.store.recipient(counterpart_id) if counterpart_id else (False, None)
        )
        if erased or counterpart_erased:
            self.store.remove(notification["_id"])
            return None
        # a contact the event itself stored is the newest
        contact = fresh_contacts.get(notification["recipient_id"]) or contact
        if contact is None or (counterpart_id and counterpart is None):
            self._wait_for_recipient(notification)
            return None
        return contact, counterpart

    def _programme_event(self, notification: dict, contact: Mapping) -> dict | None:
        """The event of the programme a notification is about, as kept now; None for the kinds
        about no event, or while the event is not known here yet."""
        if notification["kind"] not in domain.ABOUT_PROGRAMME_EVENT:
            return None
        event_id = domain.programme_event_id(notification["data"], contact)
        return self.store.programme_event(event_id) if event_id else None

    def _give_up(self, notification: dict, attempts: int, error: str) -> None:
        """Record a notification as failed for good; a sign-in e-mail keeps no link or address,
        not even in the relay's answer."""
        kind, data = notification["kind"], notification["data"]
        kept_error = domain.redacted(kind, data, error)
        self.store.mark_failed(notification["_id"], attempts, kept_error, data=domain.kept_data(kind, data))

    def _digest_content(self, notification: dict, contact: dict) -> tuple[str, str, str, dict] | None:
        """Subject, body, unsubscribe footer and extra headers of a digest about to be sent; None
        if it has nothing to tell (e-mails turned off or the person cancelled meanwhile, or
        another digest took every suggestion).

        Its suggestions are those it took on its first attempt, and then those no digest took:
        a digest sent again after a crash lists the same."""
        preference = contact.get("suggestion_emails") or domain.DEFAULT_PREFERENCE
        if preference == "off" or contact.get("status") == "cancelled":
            return None
        taken = self.store.take_for_digest(notification["recipient_id"], notification["_id"])
        counterparts = self.store.contact_documents(item["counterpart_id"] for item in taken)
        # a counterpart that cancelled since is no longer suggested
        items = [
            item
            for item in taken
            if counterparts.get(item["counterpart_id"], {}).get("status") != "cancelled"
        ]
        if not items:
            return None
        names = {person: document["name"] for person, document in counterparts.items() if "name" in document}
        subject, body = domain.render_digest(items, contact, names, self.site)
        token = domain.unsubscribe_token(self.store.unsubscribe_secret, notification["recipient_id"])
        query = f"token={quote(token, safe='')}"
        headers = {
            # RFC 8058 one-click unsubscribe: mail clients POST "List-Unsubscribe=One-Click" to the API
            "List-Unsubscribe": f"<{self.site['base_url']}/api/v1/unsubscribe?{query}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
        # people follow the link in the text to a page that asks first
        page = f"{self.site['base_url']}/unsubscribe?{query}"
        return subject, body, domain.unsubscribe_footer(contact["language"], page), headers

    def _digest_sent(self, notification: dict, contact: dict) -> None:
        """Remember when the person was e-mailed suggestions, so the next digest waits its
        window; and if suggestions came while this one was being sent, see that the next
        digest will tell of them (no later event might)."""
        sent_at = clock.now_iso()
        recipient_id = notification["recipient_id"]
        self.store.record_suggestion_email(recipient_id, sent_at)
        untaken = [item for item in self.store.announced_to(recipient_id) if item.get("digest_id") is None]
        if untaken:
            latest = max(untaken, key=lambda item: item["announced_at"])
            person = {**contact, "last_suggestion_email_at": sent_at}
            kinds = {recipient_id: notification["data"]["recipient_kind"]}
            self._schedule_digests(kinds, {recipient_id: person}, latest["event_id"])

    def _record_sent(self, notification: dict, subject: str, body: str, attempts: int) -> None:
        """Record a sent e-mail, waiting out a store outage: left unrecorded, it would be sent
        again when its lease ends. A sign-in e-mail is kept without its link and address."""
        notification_id, kind, data = notification["_id"], notification["kind"], notification["data"]
        kept_body, kept_data = domain.redacted(kind, data, body), domain.kept_data(kind, data)
        for delay in RECORD_RETRY_SECONDS:
            try:
                self.store.mark_sent(notification_id, subject, kept_body, attempts, data=kept_data)
                return
            except PyMongoError:
                log.warning("could not record a sent e-mail yet", extra={"notification_id": notification_id})
                eventlet.sleep(delay)
        self.store.mark_sent(notification_id, subject, kept_body, attempts, data=kept_data)

    def _wait_for_recipient(self, notification: dict) -> None:
        """Try again soon a notification whose recipient's contact (or the counterpart's it
        names) has not arrived yet; give it up after RECIPIENT_WAIT_SECONDS."""
        waited = clock.parse_iso(clock.now_iso()) - clock.parse_iso(notification["created_at"])
        if waited.total_seconds() > domain.RECIPIENT_WAIT_SECONDS:
            self._give_up(notification, notification["attempts"], "recipient or counterpart unknown")
        else:
            self.store.mark_retry(
                notification["_id"],
                notification["attempts"],
                RECIPIENT_RECHECK_SECONDS,
                "waiting for a contact",
            )

    def purge_finished(self) -> int:
        """Delete the notifications finished more than NOTIFICATION_RETENTION_DAYS ago (their
        bodies name people); how many."""
        before = datetime.now(UTC) - timedelta(days=self.retention_days)
        return self.store.remove_finished_before(clock.to_iso(before))

    def purge_sign_in_records(self) -> int:
        """Delete the records of sign-in e-mails older than SIGN_IN_RECORD_HOURS; how many."""
        before = domain.sign_in_purge_before(datetime.now(UTC))
        return self.store.remove_of_kind_before(domain.SIGN_IN_KIND, clock.to_iso(before))

    # reading

    def notifications_of(self, recipient_id: str, limit: int) -> list[dict]:
        """The person's notifications and announced suggestions, newest first: a suggestion shows
        here at once, whenever its e-mail goes."""
        contact = self.store.contact(recipient_id)
        language = contact["language"] if contact else "ko"
        documents = self.store.of_recipient(recipient_id, limit, hidden_kinds=domain.HIDDEN_FROM_INBOX)
        # the other parties named by interest notifications not sent yet
        unsent_about = {
            d["counterpart_id"] for d in documents if "subject" not in d and d.get("counterpart_id")
        }
        counterparts = self.store.known_contacts(unsent_about) if unsent_about else {}
        items = []
        for document in documents:
            subject, body = document.get("subject"), document.get("body")
            counterpart = counterparts.get(document.get("counterpart_id", ""))
            if subject is None and document["kind"] == domain.DIGEST_KIND:
                subject, body = domain.render_pending_digest(language)
            elif (
                subject is None
                and contact is not None
                and (counterpart is not None or document["kind"] not in domain.ABOUT_COUNTERPART)
            ):
                programme_event = self._programme_event(document, contact)
                if programme_event is None and document["kind"] in domain.ABOUT_EVENT_ONLY:
                    continue  # nothing to say of an event not known yet: shown once it is sent
                subject, body = domain.render(
                    document["kind"],
                    document["data"],
                    contact,
                    self.site,
                    counterpart=counterpart,
                    programme_event=programme_event,
                )
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
        announced = sorted(
            self.store.announced_to(recipient_id), key=lambda a: a["announced_at"], reverse=True
        )
        announced = announced[:limit]
        companies = [item["counterpart_id"] for item in announced if item["counterpart_kind"] == "company"]
        names = (
            {
                person: document["name"]
                for person, document in self.store.contact_documents(companies).items()
                if "name" in document
            }
            if companies
            else {}
        )
        for item in announced:
            subject, body = domain.render_suggestion(
                item, contact or {"language": language}, names.get(item["counterpart_id"]), self.site
            )
            items.append(
                {
                    "id": item["_id"],
                    "kind": "suggestion",
                    "status": "in_app",
                    "attempts": 0,
                    "created_at": item["announced_at"],
                    "sent_at": None,
                    "subject": subject,
                    "body": body,
                }
            )
        return sorted(items, key=lambda item: item["created_at"], reverse=True)[:limit]

    # preferences

    def preferences_of(self, recipient_id: str) -> dict:
        erased, stored = self.store.preference(recipient_id)
        if erased:
            raise NotFound("No such recipient.")
        return {"suggestion_emails": stored or domain.DEFAULT_PREFERENCE}

    def set_preferences(self, recipient_id: str, preferences: Mapping, create: bool = False) -> dict:
        value = preferences.get("suggestion_emails") if isinstance(preferences, Mapping) else None
        if value not in domain.PREFERENCES:
            raise Invalid(
                "Invalid preference.",
                {"suggestion_emails": [f"Must be one of: {', '.join(domain.PREFERENCES)}."]},
            )
        if not self.store.set_preference(recipient_id, value, create=create):
            raise NotFound("No such recipient.")
        return {"suggestion_emails": value}

    def unsubscribe(self, token: str) -> dict:
        """One-click unsubscribe: the token's recipient gets no more suggestion e-mails; nothing
        else changes (transactional e-mails still go, suggestions still show in-app)."""
        recipient_id = (
            domain.unsubscribe_recipient(self.store.unsubscribe_secret, token)
            if isinstance(token, str)
            else None
        )
        if recipient_id is None or not self.store.set_preference(recipient_id, "off"):
            raise NotFound("This unsubscribe link is not valid (or its recipient was erased).")
        return {"suggestion_emails": "off"}


def _describe(error: BaseException) -> str:
    return error_summary(error, limit=1000)
