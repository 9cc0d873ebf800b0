"""Entrypoints of the registration service: RPC for the gateway (registrations, and the events of
the programme they are for), and the outbox relay."""

import logging
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from cachetools import TTLCache
from marshmallow import Schema, ValidationError, fields, validate
from nameko.timer import timer
from pymongo.database import Database

from registration import domain
from registration.retention import ERASE_BATCH, EventRetention
from registration.sensitive import Sealer
from registration.store import RegistrationStore
from shared import clock, metrics
from shared.caller_assertions import NotVouched, acts_for_someone, vouched_caller
from shared.contracts.programme import EventSchema
from shared.contracts.registration import (
    KINDS,
    CallerSchema,
    CheckInSchema,
    EventExportSchema,
    RegistrationQuerySchema,
    SignInRequestSchema,
    load_registration,
)
from shared.errors import EXPECTED, Conflict, Forbidden, Invalid, NotFound
from shared.mongo import Store
from shared.outbox import Outbox
from shared.rpc import rpc
from shared.settings import Settings

log = logging.getLogger(__name__)

SERVICE = "registration"
# one organiser export answers at most this many rows (one RPC answer, a few megabytes)
EXPORT_LIMIT = 50_000
MAX_IDS = 500
# how often what has outlived its retention is looked for, and how much is erased at a time
RETENTION_SWEEP_SECONDS = 3600
# how often waiting lists are looked at, in case a promotion was not finished when places freed
PROMOTE_SECONDS = 1.0
# one process at a time promotes a registration, for at most this long (a killed one's turn ends)
PROMOTION_LEASE_SECONDS = 10.0
# places claimed this long ago for no admitted registration were left by a crash; looked for
# every STRAY_SEATS_SWEEP_SECONDS
STRAY_SEATS_SECONDS = 60.0
STRAY_SEATS_SWEEP_SECONDS = 15.0
# the door's counts of an event's registrations are read again this often per process (every
# registration for it is read: on the embedded store, half a second for 10,000, during which
# the badges scanned wait)
DOOR_RECOUNT_SECONDS = 60.0
EVENT_COUNTS: TTLCache = TTLCache(maxsize=100, ttl=DOOR_RECOUNT_SECONDS)
# how often registrations due a refresh of their contact in notification are looked for (a
# batch a round, the first as the service starts; once none is due, one indexed read finding none)
CONTACT_REFRESH_SECONDS = 5.0


class ContactCardsSchema(Schema):
    ids = fields.List(
        fields.String(validate=validate.Length(max=100)), required=True, validate=validate.Length(max=MAX_IDS)
    )


class AuditLogSchema(Schema):
    limit = fields.Integer(strict=True, validate=validate.Range(min=1, max=1000))


def _store(database: Database) -> RegistrationStore:
    settings = Settings.from_env()
    default_event = domain.default_event(
        settings.default_expo_id,
        settings.default_expo_name_ko,
        settings.default_expo_name_en,
        clock.now_iso(),
    )
    return RegistrationStore(database, Sealer(settings.sensitive_data_key), default_event)


class RegistrationService(metrics.IoCountsRpc):
    name = SERVICE

    store: RegistrationStore = Store(SERVICE, _store)
    outbox = Outbox(SERVICE, ("registrations", "sign_in_links", "events"))

    def __init__(self) -> None:
        self.settings = Settings.from_env()

    @rpc(expected_exceptions=EXPECTED)
    def create(self, kind: str, data: dict, idempotency_key: str | None = None) -> dict:
        """Register for an event (the default expo unless ``event_id`` names another); the answer
        carries the manage token, shown this once only. NotFound for an event nobody may see,
        Conflict for one that takes no registrations now.

        The same ``idempotency_key`` again (a double submit, a retry after a lost answer) answers
        the registration the first request made, without its token, instead of a conflict, even
        once its event stopped taking registrations."""
        _check_kind(kind)
        clean = _validated(kind, data, partial=False)
        key = _idempotency_key(idempotency_key)
        event_id = clean.get("event_id") or clean.get("expo_id") or self.settings.default_expo_id
        now = clock.now_iso()
        token = domain.new_manage_token()
        document, _ = domain.register(kind, clean, event_id, domain.hash_token(token), now, key)
        try:
            event = self.store.event(event_id)
            domain.require_taking_registrations(event, event_id, now)
            document, position = self._admitted_or_waiting(event, document, now)
            stored = self.store.add(document, domain.registration_events(document, position))
        except Conflict:
            earlier = self.store.get(document["_id"]) if key else None
            if earlier is None:
                # refused (an address registered already): the places claimed for it go back
                self.store.release_seats_of(document["_id"])
            if earlier is None or earlier["kind"] != kind or earlier["status"] == "erased":
                raise
            return {**self._owner_view(earlier), "repeated": True}
        self.outbox.flush("registrations", stored["_id"])
        return {**self._owner_view(stored), "manage_token": token}

    def _admitted_or_waiting(self, event: dict, document: dict, now: str) -> tuple[dict, int | None]:
        """The new registration admitted, with its places claimed before it is stored (a crash in
        between leaves places the sweeper gives back), or waiting, with its place in line: when
        its party does not fit, and whenever someone is waiting already, so nobody jumps the line."""
        if not domain.has_capacity(event):
            return domain.admit(document), None
        line = self.store.waiting_for(event["_id"])
        if not line and self.store.claim_seats(
            event["_id"], document["_id"], event["capacity"], domain.party_size(document), now
        ):
            return domain.admit(document), None
        return domain.wait(document, now), len(line) + 1

    @rpc(expected_exceptions=EXPECTED)
    def get(self, kind: str, registration_id: str, caller: str) -> dict:
        who = self._caller(caller)
        return self._answer(self._authorised(kind, registration_id, who), who)

    @rpc(expected_exceptions=EXPECTED)
    def update(self, kind: str, registration_id: str, changes: dict, caller: str) -> dict:
        who = self._caller(caller)
        clean = _validated(kind, changes, partial=True)
        current = self._authorised(kind, registration_id, who)
        seated = current.get("admission") in domain.SEATED and domain.has_capacity(
            self.store.event(current["event_id"])
        )
        if seated and "companions" in clean:
            self._claim_for_companions(current, clean["companions"])
        try:
            changed = self._change(
                kind,
                registration_id,
                who,
                lambda doc, now: domain.change(doc, clean, now, self.settings.profile_changes_per_hour),
            )
        finally:
            if seated:
                # fewer companions, or a change refused after more places were claimed
                self.store.trim_seats(registration_id, domain.party_size(self.store.get(registration_id)))
        return self._answer(changed, who)

    def _claim_for_companions(self, document: dict, companions: int) -> None:
        """Claim the places more companions of an admitted registration need; Conflict if there
        are none (the registration stays as it was)."""
        event = self.store.event(document["event_id"])
        size = domain.party_size({**document, "companions": companions})
        if size > domain.party_size(document) and not self.store.claim_seats(
            event["_id"], document["_id"], event["capacity"], size, clock.now_iso()
        ):
            raise Conflict(domain.NO_SEATS_FOR_COMPANIONS)

    @rpc(expected_exceptions=EXPECTED)
    def cancel(self, kind: str, registration_id: str, caller: str) -> dict:
        cancelled = self._change(kind, registration_id, self._caller(caller), domain.cancel)
        self._release(cancelled)
        return self._owner_view(cancelled)

    @rpc(expected_exceptions=EXPECTED)
    def confirm(self, kind: str, registration_id: str, caller: str) -> dict:
        """Take the places offered on promotion (PROMOTION_HOLD_MINUTES); Conflict when nothing is
        offered or the offer expired."""
        who = self._caller(caller)
        return self._answer(self._change(kind, registration_id, who, domain.confirm), who)

    @rpc(expected_exceptions=EXPECTED)
    def erase(self, kind: str, registration_id: str, caller: str) -> dict:
        self._release(self._change(kind, registration_id, self._caller(caller), domain.erase))
        return {"id": registration_id, "status": "erased"}

    def _release(self, document: dict) -> None:
        """Give back the places of a registration that no longer comes, and let the first in its
        event's line have them at once (the promotion timer catches up on anything missed)."""
        self.store.release_seats_of(document["_id"])
        self._promote(document["event_id"])

    def _promote(self, event_id: str) -> int:
        """Admit the event's waiting registrations in line order while the whole party of the
        first in line fits; how many. Strictly in order: a smaller party behind one that does not
        fit waits too. Interrupted, it is done again: places held already count."""
        event = self.store.event(event_id)
        if not domain.has_capacity(event):
            return 0
        promoted = 0
        for waiting in self.store.waiting_for(event_id):
            now = clock.now_iso()
            until = clock.to_iso(clock.parse_iso(now) + timedelta(seconds=PROMOTION_LEASE_SECONDS))
            if not self.store.take_promotion(waiting["_id"], now, until):
                # another process is promoting the first in line, and goes on down the line
                break
            if not self.store.claim_seats(
                event_id, waiting["_id"], event["capacity"], domain.party_size(waiting), now
            ):
                self.store.give_up_promotion(waiting["_id"])
                break
            hold = self.settings.promotion_hold_minutes
            stored, events = self.store.modify(
                waiting["_id"], partial(domain.promote, now=now, hold_minutes=hold)
            )
            if events:
                self.outbox.flush("registrations", waiting["_id"])
                promoted += 1
            elif stored is None or stored.get("admission") not in domain.SEATED:
                # cancelled or erased meanwhile: its places go to the next in line
                self.store.release_seats_of(waiting["_id"])
        return promoted

    def _owner_view(self, document: dict) -> dict:
        """The owner's view, with the place in line of a waiting registration."""
        view = domain.owner_view(document)
        if document.get("admission") == domain.WAITING:
            view["waiting_position"] = domain.waiting_position(
                document, self.store.waiting_for(document["event_id"])
            )
        return view

    @rpc(expected_exceptions=EXPECTED)
    def identify(self, token: str, caller: str) -> dict | None:
        """Who a manage token belongs to, or None. For whoever the gateway vouches for
        (``caller``: the one presenting the token, whom it does not know yet); a call it does not
        vouch for is Forbidden, as every call of someone the gateway does not vouch for is, rather
        than None, which would tell a misconfigured gateway the token is unknown."""
        self._vouched(caller)
        if not isinstance(token, str) or not token:
            return None
        document = self.store.find_by_token_hash(domain.hash_token(token))
        if document is None:
            return None
        return {"registration_id": document["_id"], "kind": document["kind"]}

    @rpc(expected_exceptions=EXPECTED)
    def request_sign_in(self, email: str, language: str = "ko") -> dict:
        """E-mail a one-time sign-in link to ``email`` if it is a registrant's or an organiser's.
        The answer is the same either way: nobody learns from it whether an address is known."""
        clean = _loaded(SignInRequestSchema(), {"email": email, "language": language})
        address = clean["email"]
        key = domain.email_key(address)
        registrations = self.store.registrations_of(key)
        if registrations or key in self.settings.organiser_emails:
            self._send_sign_in_link(address, domain.link_language(registrations, clean["language"]))
        return {"status": "sent"}

    @rpc
    def complete_sign_in(self, link_token: str) -> dict | None:
        """Use a sign-in link: who it signs in, or None for a link unknown, used or expired."""
        # anything but a string of a link token's length is a link nobody was sent
        if not isinstance(link_token, str) or not 20 <= len(link_token) <= 200:
            return None
        now = clock.now_iso()
        link = self.store.use_sign_in_link(domain.hash_token(link_token), now)
        if link is None:
            return None
        self.store.mark_email_verified(link["email"], now)
        organiser = link["email"] in self.settings.organiser_emails
        return {
            "email": link["email"],
            "organiser": organiser,
            # shown the download of names with needs; each such download is checked again
            "names_with_needs": organiser and link["email"] in self.settings.organiser_sensitive_emails,
        }

    @rpc(expected_exceptions=EXPECTED)
    def registrations_of(self, caller: str) -> list[dict]:
        """What someone signed in sees of each of their registrations, newest first."""
        who = self._caller(caller)
        if not who.get("email"):
            raise Forbidden("Only someone signed in with an e-mailed link sees their registrations.")
        key = domain.email_key(who["email"])
        return [self._owner_view(document) for document in self.store.registrations_of(key)]

    @rpc(expected_exceptions=EXPECTED)
    def reissue_badge(self, kind: str, registration_id: str, caller: str) -> dict:
        """A new check-in code for a registration, in place of one lost or shared; the holder is
        sent it (registration.updated)."""
        who = self._caller(caller)
        return self._answer(self._change(kind, registration_id, who, domain.reissue_badge), who)

    # --- check-in at the door --------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def check_in(self, event_id: str, code: str, caller: str) -> dict:
        """Check in the holder of a badge at the door of the event, once: what the staff at the
        door see of them (reading their accessibility needs is audited), or why the badge lets
        nobody in (domain.door_refusal). Scanned again, it answers when they were checked in."""
        who = self._organiser(caller)
        event = self._event(event_id)
        code = _loaded(CheckInSchema(), {"code": code})["code"]
        document = self.store.find_by_badge(code)
        now = clock.now_iso()
        checker = domain.door_checker(who)
        refusal = domain.door_refusal(document, event["_id"])
        if refusal is None and self.store.record_check_in(document, now, checker):
            document, outcome = (
                {**document, "checked_in_at": now, "checked_in_by": checker},
                domain.CHECKED_IN,
            )
        elif refusal is None:
            # checked in already (perhaps by another door this moment), or the badge was revoked
            # or cancelled meanwhile: as it is now
            document, outcome = self.store.find_by_badge(code), domain.ALREADY_CHECKED_IN
            refusal = domain.door_refusal(document, event["_id"])
        if refusal is not None:
            return self._refused_at_door(refusal, document, now)
        if document.get("accessibility_needs"):
            self.store.add_audit(domain.audit_record(who, "check_in", document["_id"], now))
        return domain.door_view(document, outcome)

    def _refused_at_door(self, refusal: str, document: dict | None, now: str) -> dict:
        if refusal != domain.OTHER_EVENT:
            return {"outcome": refusal}
        other = self.store.event(document["event_id"])
        return {"outcome": refusal, "event": domain.public_event_view(other, now) if other else None}

    @rpc(expected_exceptions=EXPECTED)
    def undo_check_in(self, event_id: str, registration_id: str, caller: str) -> dict:
        """Take back a check-in recorded by mistake (the badge then checks in again)."""
        self._organiser(caller)
        event = self._event(event_id)
        document = self.store.get(registration_id) if isinstance(registration_id, str) else None
        if document is None or document["event_id"] != event["_id"] or document["status"] == "erased":
            raise NotFound(f"No registration {registration_id} for this event.")
        undone = self.store.undo_check_in(registration_id)
        return {"outcome": "undone" if undone else "not_checked_in", "registration_id": registration_id}

    @rpc(expected_exceptions=EXPECTED)
    def door_counts(self, event_id: str, caller: str) -> dict:
        """The event's active registrations (as counted in the last DOOR_RECOUNT_SECONDS) and how
        many of them, and of the people they bring, are checked in so far (the door's tally)."""
        self._organiser(caller)
        event = self._event(event_id)
        counted = EVENT_COUNTS.get(event["_id"])
        if counted is None:
            counted = EVENT_COUNTS[event["_id"]] = self.store.recount_door(event["_id"])
        return {"event_id": event["_id"], **counted, **self.store.door_tally(event["_id"])}

    @rpc(expected_exceptions=EXPECTED)
    def public_profiles(self, ids: list[str], caller: str) -> dict:
        """What each active registration among ``ids`` publishes about itself, for an organiser
        or someone acting for a registration (its counterparts), as the gateway vouches
        (``caller``); anyone else is Forbidden, as in every call for organisers or parties only."""
        self._acting(caller)
        return {doc["_id"]: domain.public_profile(doc) for doc in self.store.public_profiles(ids[:500])}

    @rpc(expected_exceptions=EXPECTED)
    def contact_cards(self, ids: list[str], caller: str) -> dict[str, dict]:
        """How each active company or investor among ``ids`` is reached, for an organiser or
        someone acting for a registration, as the gateway vouches (``caller``); anyone else is
        Forbidden (an error, as for every call for organisers or parties only, not an empty
        answer that would read as "nobody to reach"). The gateway asks only for the counterparts
        of accepted interest: matching, not registration, knows which those are."""
        self._acting(caller)
        clean = _loaded(ContactCardsSchema(), {"ids": ids})
        return {doc["_id"]: domain.contact_card(doc) for doc in self.store.active_parties(clean["ids"])}

    @rpc(expected_exceptions=EXPECTED)
    def list_registrations(self, query: dict, caller: str) -> dict:
        """One page of an organiser's search of registrations, newest first."""
        self._organiser(caller)
        clean = _loaded(RegistrationQuerySchema(), query)
        conditions = domain.registration_filter(clean)
        page, per_page = clean["page"], clean["per_page"]
        documents = self.store.rows(conditions, skip=(page - 1) * per_page, limit=per_page)
        return {
            "items": [domain.row(document) for document in documents],
            "total": self.store.count_matching(conditions),
            "page": page,
            "per_page": per_page,
        }

    @rpc(expected_exceptions=EXPECTED)
    def export_registrations(self, query: dict, caller: str) -> list[dict]:
        """Every registration an organiser's search finds (up to EXPORT_LIMIT), for a CSV file.
        The export is audited before anything is read."""
        who = self._organiser(caller)
        clean = _loaded(RegistrationQuerySchema(), query)
        self.store.add_audit(domain.audit_record(who, "export_registrations", None, clock.now_iso()))
        documents = self.store.rows(domain.registration_filter(clean), skip=0, limit=EXPORT_LIMIT)
        return [domain.row(document) for document in documents]

    @rpc(expected_exceptions=EXPECTED)
    def export_event(self, query: dict, caller: str) -> list[dict]:
        """The rows of one of an event's exports (EventExportSchema), for a file. Every export
        that lists people is audited before anything is read; the names of those with
        accessibility needs only for an organiser holding that permission (ORGANISER_SENSITIVE_EMAILS)."""
        who = self._organiser(caller)
        clean = _loaded(EventExportSchema(), query)
        event_id = self._event(clean["event_id"])["_id"]
        export = clean["export"]
        if export == "accessibility" and not clean["names"]:
            return domain.preparation_rows(self.store.needs_of_event(event_id))
        permitted = self.settings.organiser_sensitive_emails
        if clean["names"] and not domain.may_see_names_with_needs(who, permitted):
            raise Forbidden(
                "Names with accessibility needs are only for organisers given that permission "
                "(ORGANISER_SENSITIVE_EMAILS), signed in with their own address."
            )
        action = "export_accessibility_names" if clean["names"] else f"export_{export}"
        self.store.add_audit(domain.audit_record(who, action, None, clock.now_iso(), event_id=event_id))
        if clean["names"]:
            return domain.needs_rows(self.store.needs_of_event(event_id))
        rows = self.store.rows({"event_id": event_id, "status": "active"}, skip=0, limit=EXPORT_LIMIT)
        if export == "waiting_list":
            return domain.waiting_rows([row for row in rows if row.get("admission") == domain.WAITING])
        if export == "check_ins":
            return domain.check_in_rows(rows)
        return [domain.row(row) for row in rows]

    @rpc(expected_exceptions=EXPECTED)
    def audit_log(self, caller: str, limit: int = 100) -> list[dict]:
        """Organisers' reads of accessibility needs and exports, newest first."""
        self._organiser(caller)
        return self.store.audit_log(_loaded(AuditLogSchema(), {"limit": limit})["limit"])

    # --- events of the programme ----------------------------------------------------------

    @rpc
    def public_events(self) -> list[dict]:
        """The events everyone sees listed (not drafts, not over), the soonest first."""
        now = clock.now_iso()
        listed = [event for event in self.store.all_events() if domain.is_listed(event, now)]
        return [domain.public_event_view(event, now) for event in domain.programme_order(listed)]

    @rpc(expected_exceptions=EXPECTED)
    def public_event(self, event_id: str) -> dict:
        """One event as everyone sees it, over or not; NotFound for a draft."""
        event = self._event(event_id)
        if event["status"] == "draft":
            raise NotFound(f"No event {event_id!r}.")
        return domain.public_event_view(event, clock.now_iso())

    @rpc(expected_exceptions=EXPECTED)
    def list_events(self, caller: str, with_counts: bool = True) -> list[dict]:
        """Every event, the soonest first, with the active registrations for each (one pass over
        the registrations; without ``with_counts``, none, and every count is 0)."""
        self._organiser(caller)
        now = clock.now_iso()
        census = self.store.event_census() if with_counts is True else []
        counts = domain.counts_by_event(census, self.settings.default_expo_id)
        taken = self.store.seats_taken() if with_counts is True else {}
        waiting = (
            Counter(document["event_id"] for document in self.store.waiting()) if with_counts is True else {}
        )
        return [
            domain.organiser_event_view(
                event,
                now,
                counts.get(event["_id"]),
                (taken.get(event["_id"], 0), waiting.get(event["_id"], 0)),
            )
            for event in domain.programme_order(self.store.all_events())
        ]

    @rpc(expected_exceptions=EXPECTED)
    def get_event(self, event_id: str, caller: str) -> dict:
        self._organiser(caller)
        event = self._event(event_id)
        return self._event_view(event, clock.now_iso())

    @rpc(expected_exceptions=EXPECTED)
    def create_event(self, data: dict, caller: str) -> dict:
        self._organiser(caller)
        now = clock.now_iso()
        document = self.store.add_event(domain.new_programme_event(_loaded(EventSchema(), data), now))
        self.outbox.flush("events", document["_id"])
        return domain.organiser_event_view(document, now, None)

    @rpc(expected_exceptions=EXPECTED)
    def update_event(self, event_id: str, changes: dict, caller: str) -> dict:
        """Change an event's fields or its status (the domain says which status may follow which)."""
        self._organiser(caller)
        event_id = _event_id(event_id)
        clean = _loaded(EventSchema(partial=True), changes)
        now = clock.now_iso()
        changed = self.store.modify_event(
            event_id, lambda document: domain.change_programme_event(document, clean, now)
        )
        self.outbox.flush("events", event_id)
        if "capacity" in clean:
            # people admitted while it had none take places first, then the line moves on
            self.store.seat_unseated(changed, now)
            self._promote(event_id)
        return self._event_view(changed, now)

    @rpc(expected_exceptions=EXPECTED)
    def request_event_purge(self, event_id: str, caller: str) -> dict:
        """Destroy the personal data of the event's registrations now rather than
        RETENTION_DAYS_AFTER_EXPO after it (within a minute, leaving its anonymous counts)."""
        self._organiser(caller)
        event_id = _event_id(event_id)
        now = clock.now_iso()
        changed = self.store.modify_event(event_id, lambda document: domain.request_purge(document, now))
        return self._event_view(changed, now)

    def _event_view(self, event: dict, now: str) -> dict:
        """One event as organisers see it, counted from its own registrations (not everyone's)."""
        places = (self.store.seats_taken_at(event["_id"]), len(self.store.waiting_for(event["_id"])))
        return domain.organiser_event_view(event, now, self.store.counts_of_event(event["_id"]), places)

    @rpc
    def stats(self) -> dict:
        census = self.store.census()
        needs, companions = domain.accessibility_counts(
            [record for record in census if record["status"] == "active"]
        )
        return {
            "registrations": domain.registration_counts(census),
            "accessibility_needs": needs,
            "companions": companions,
            "outbox_pending": self.outbox.pending(),
        }

    @rpc
    def health(self) -> dict:
        self.store.ping()
        return {"service": SERVICE, "status": "ok"}

    @timer(interval=1.0)
    def relay_outbox(self) -> None:
        self.outbox.sweep()

    @timer(interval=CONTACT_REFRESH_SECONDS, eager=True)
    def refresh_contacts(self) -> int:
        """Bring notification's contacts of registrations stored before it kept all it keeps up
        to date, once each, silently (domain.refresh_contact); how many in this round."""
        refreshed = self.store.refresh_contacts()
        for registration_id in refreshed:
            self.outbox.flush("registrations", registration_id)
        return len(refreshed)

    @timer(interval=PROMOTE_SECONDS)
    def promote_waiting(self) -> int:
        """Pass on the places of offers not confirmed in time, and catch up on promotions a request
        did not finish (a crash, places freed otherwise)."""
        now = clock.now_iso()
        for registration_id in self.store.expired_offers(now):
            _, events = self.store.modify(registration_id, partial(domain.lapse, now=now))
            if events:
                self.outbox.flush("registrations", registration_id)
                self.store.release_seats_of(registration_id)
        return sum(self._promote(event_id) for event_id in {doc["event_id"] for doc in self.store.waiting()})

    @timer(interval=STRAY_SEATS_SWEEP_SECONDS)
    def release_stray_seats(self) -> int:
        """Give back places claimed over STRAY_SEATS_SECONDS ago for no admitted registration."""
        before = clock.to_iso(clock.parse_iso(clock.now_iso()) - timedelta(seconds=STRAY_SEATS_SECONDS))
        stray = self.store.stray_seats(before)
        self.store.release_seats(stray)
        return len(stray)

    @timer(interval=60.0)
    def forget_expired_sign_in_links(self) -> None:
        self.store.forget_expired_sign_in_links(clock.now_iso())

    @timer(interval=60.0)
    def purge_events_due(self) -> int:
        """Erase the registrations of events whose retention has ended, or that an organiser
        asked to purge (a batch per event a minute); how many."""
        retention = EventRetention(self.store, self.outbox.flush, self.settings.retention_days_after_expo)
        return retention.sweep(clock.now_iso())

    @timer(interval=RETENTION_SWEEP_SECONDS)
    def erase_old_cancellations(self) -> int:
        """Erase what is left of registrations cancelled more than CANCELLED_RETENTION_DAYS ago
        (every service hears of it, as of any erasure); how many."""
        now = clock.now_iso()
        before = clock.to_iso(clock.parse_iso(now) - timedelta(days=self.settings.cancelled_retention_days))
        erased = 0
        for registration_id in self.store.cancelled_before(before, ERASE_BATCH):
            _, events = self.store.modify(
                registration_id, lambda document: domain.erase_if_cancelled_before(document, before, now)
            )
            if events:
                self.outbox.flush("registrations", registration_id)
                erased += 1
        return erased

    def _send_sign_in_link(self, address: str, language: str) -> None:
        """Store a new link for ``address`` with the event that e-mails it, unless the address has
        its SIGN_IN_LINKS_PER_ADDRESS unexpired links already (then nothing: no flood of mail)."""
        now = clock.now_iso()
        links = self.store.sign_in_links_of(domain.email_key(address))
        # expired links hold their slots until deleted
        self.store.forget_sign_in_links([link["_id"] for link in links if link["expires_at"] <= now])
        for slot in domain.free_link_slots(links, now):
            document, events = domain.new_sign_in_link(
                address, language, slot, now, self.settings.sign_in_link_minutes
            )
            if self.store.add_sign_in_link(document, events):
                self.outbox.flush("sign_in_links", document["_id"])
                return
            # another request took this slot meanwhile: try the next one

    def _caller(self, assertion: Any) -> dict:
        """The caller the gateway vouches for, as CallerSchema loads it; an assertion that is not
        the gateway's (unsigned, altered, too old: a message put on the broker by anyone else)
        vouches for nobody."""
        try:
            return CallerSchema().load(vouched_caller(assertion, self.settings.caller_signing_key))
        except (NotVouched, ValidationError) as error:
            log.warning("a call without a valid caller assertion", extra={"reason": str(error)[:200]})
            return {"organiser": False, "organiser_email": None}

    def _vouched(self, assertion: Any) -> dict:
        """Whoever the gateway vouches for (anyone: the caller as the gateway signed it); Forbidden
        for a call it does not vouch for (a message put on the broker by anyone else)."""
        try:
            return vouched_caller(assertion, self.settings.caller_signing_key)
        except NotVouched as error:
            log.warning("a call without a valid caller assertion", extra={"reason": str(error)[:200]})
            raise Forbidden("The gateway does not vouch for this caller.") from error

    def _acting(self, assertion: Any) -> dict:
        """An organiser or someone acting for a registration, as the gateway vouches
        (caller_assertions.acts_for_someone); Forbidden for anyone else."""
        who = self._vouched(assertion)
        if not acts_for_someone(who):
            raise Forbidden("Only organisers, and someone acting for a registration, may see this.")
        return who

    def _organiser(self, assertion: Any) -> dict:
        who = self._caller(assertion)
        if not who["organiser"]:
            raise Forbidden("Only organisers may see this.")
        return who

    def _answer(self, document: dict, who: dict) -> dict:
        """The owner's view; an organiser's reading of accessibility needs is audited first."""
        if who["organiser"] and document.get("accessibility_needs"):
            record = domain.audit_record(who, "read_accessibility_needs", document["_id"], clock.now_iso())
            self.store.add_audit(record)
        return self._owner_view(document)

    def _change(self, kind: str, registration_id: str, who: dict, decide: Callable) -> dict:
        """Apply ``decide(document, now)`` to a registration the caller may act on, and publish."""
        self._authorised(kind, registration_id, who)
        now = clock.now_iso()
        stored, events = self.store.modify(registration_id, lambda document: decide(document, now))
        if events:
            self.outbox.flush("registrations", registration_id)
        return stored

    def _event(self, event_id: Any) -> dict:
        event = self.store.event(_event_id(event_id))
        if event is None:
            raise NotFound(f"No event {event_id!r}.")
        return event

    def _authorised(self, kind: str, registration_id: str, who: dict) -> dict:
        """The registration if ``who`` may act on it (see domain.may_act)."""
        _check_kind(kind)
        document = self.store.get(registration_id) if isinstance(registration_id, str) else None
        exists = document is not None and document["kind"] == kind and document["status"] != "erased"
        if who["organiser"]:
            if not exists:
                raise NotFound(f"No {kind} registration {registration_id}.")
            return document
        if exists and domain.may_act(document, who):
            return document
        # the same answer whether or not the registration exists: no existence oracle
        raise Forbidden("This sign-in does not give access to that registration.")


def _idempotency_key(key: object) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str) or not 8 <= len(key) <= 100 or not key.isascii() or not key.isprintable():
        raise Invalid(
            "Not a valid idempotency key.", {"idempotency_key": ["Use 8 to 100 printable ASCII characters."]}
        )
    return key


def _event_id(event_id: Any) -> str:
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 100:
        raise NotFound("No such event.")
    return event_id


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise NotFound(f"Unknown registration kind {kind!r}.")


def _validated(kind: str, data: object, *, partial: bool) -> dict:
    try:
        return load_registration(kind, data, partial=partial)
    except ValidationError as error:
        raise Invalid("Some fields are invalid.", error.messages) from error


def _loaded(schema: Schema, data: Any) -> dict:
    try:
        return schema.load(data)
    except ValidationError as error:
        raise Invalid("Some fields are invalid.", error.messages) from error
