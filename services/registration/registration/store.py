"""The registration service's own database: registrations (with their outbox), the events they
are for, one-time sign-in links (with their outbox) and the audit log of organisers' reads."""

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from registration import domain
from registration.sensitive import Sealer
from shared import badges, clock
from shared.aggregates import AggregateCollection, ConcurrentUpdate
from shared.contracts.registration import REGISTRATION_ROW_FIELDS, SENSITIVE_ATTENDEE_TYPES
from shared.errors import Conflict, NotFound

SEALED = "accessibility_needs_sealed"
# a visitor type that reveals a disability or a need for care is sealed like the needs (the
# plain field is then absent: no list, search or export shows it)
TYPE_SEALED = "attendee_type_sealed"
SAVE_ATTEMPTS = 5
NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]
# what an organiser's list reads of each registration: its columns as stored (the id is _id),
# never the sealed needs themselves, only whether there are any (see rows)
ROW_PROJECTION = [
    *(field for field in REGISTRATION_ROW_FIELDS if field not in ("id", "has_accessibility_needs")),
    # what an event's waiting list and check-ins add to the columns
    "waiting_since",
    "checked_in_at",
    "checked_in_by",
]
# what an event's preparation for accessibility reads of each registration, needs opened
NEEDS_PROJECTION = ("status", "reference", "name", "admission", "companions", "carer_name", SEALED)
# expired sign-in links deleted per round (the rest go in the next)
FORGET_BATCH = 1000
# registrations given their event per write when they were stored before there were events
MOVE_BATCH = 1000
# where an earlier version kept the one expo registrations were for
EXPOS = "expos"
# rounds of claiming other free places after losing some to claims made at the same moment
CLAIM_ROUNDS = 5
DUPLICATE_KEY = 11000
# registrations brought up to date in notification per round (domain.refresh_contact)
REFRESH_BATCH = 500
# the marks of registrations due a refresh: an earlier refresh, or none (None finds those
# without the field, through its index)
REFRESH_DUE = [None, *range(1, domain.CONTACT_REFRESH)]
# the revision of an event last announced to everyone else (registration.programme_event_changed)
ANNOUNCED = "announced_revision"


class RegistrationStore:
    def __init__(self, database: Database, sealer: Sealer, default_event: dict) -> None:
        self.database = database
        self.registrations = AggregateCollection(database["registrations"])
        self.sign_in_links = AggregateCollection(database["sign_in_links"])
        self.events = AggregateCollection(database["events"])
        self.audit = database["audit_log"]
        # per event: registrations and people checked in (door_tally)
        self.door_tallies = database["door_tallies"]
        # one document per place taken at an event with a capacity (domain.seat_id)
        self.seats = database["seats"]
        self.rng = random.Random()
        self.sealer = sealer
        # the expo registrations are for unless they name another event (domain.default_event)
        self.default_event = default_event

    def prepare(self) -> None:
        collection = self.registrations.collection
        self.registrations.ensure_indexes()
        collection.create_index([("active_key", ASCENDING)], unique=True, sparse=True)
        collection.create_index([("token_hash", ASCENDING)], unique=True, sparse=True)
        collection.create_index([("kind", ASCENDING), ("status", ASCENDING)])
        collection.create_index([("email_key", ASCENDING)], sparse=True)
        collection.create_index([("reference", ASCENDING)], sparse=True)
        collection.create_index([("event_id", ASCENDING)], sparse=True)
        # only registrations on a waiting list have it "waiting": the lines are read by this alone
        collection.create_index([("admission", ASCENDING)], sparse=True)
        # the door finds a registration by the code on its badge
        collection.create_index([("checkin_code", ASCENDING)], unique=True, sparse=True)
        # not sparse: registrations without the mark are found through it, and once every one
        # has it, looking for those due reads nothing
        collection.create_index([(domain.CONTACT_REFRESHED, ASCENDING)])
        self.seats.create_index([("event_id", ASCENDING)])
        self.seats.create_index([("registration_id", ASCENDING)])
        self.seats.create_index([("claimed_at", ASCENDING)])
        links = self.sign_in_links.collection
        self.sign_in_links.ensure_indexes()
        links.create_index([("email", ASCENDING)])
        links.create_index([("expires_at", ASCENDING)])
        # at most SIGN_IN_LINKS_PER_ADDRESS unexpired links per address, even for requests at once
        links.create_index([("slot_key", ASCENDING)], unique=True)
        self.audit.create_index([("at", ASCENDING)])
        self.add_default_events()
        self.announce_events()
        self.move_to_events()
        self.upgrade_stored()
        self.give_badges()
        now = clock.now_iso()
        for event in self.all_events():
            self.seat_unseated(event, now)

    def add_default_events(self) -> None:
        """Make the default expo an event if it is not one yet, and likewise each expo an earlier
        version kept apart (the default expo of its day), then forget those. Every instance does
        this as it starts: an event is inserted only if absent, so the first one's stays."""
        now = clock.now_iso()
        earlier = [
            domain.default_event(expo["_id"], expo["name_ko"], expo["name_en"], now)
            for expo in self.database[EXPOS].find()
        ]
        for event in [self.default_event, *earlier]:
            try:
                self.add_event(event)
            except DuplicateKeyError:
                continue
        self.database.drop_collection(EXPOS)

    def announce_events(self) -> int:
        """Tell everyone else of each event as it is now that was stored before events were
        announced (the relay publishes them); how many. An event another instance announces at
        the same moment is left to it."""
        announced = 0
        for event in self.all_events():
            if event.get(ANNOUNCED) == event["revision"]:
                continue
            try:
                self.events.save(
                    {**event, ANNOUNCED: event["revision"]}, domain.programme_event_changed(None, event)
                )
            except ConcurrentUpdate:
                continue
            announced += 1
        return announced

    def move_to_events(self) -> int:
        """Give every registration stored before there were events the event it was for: the
        expo it names in ``expo_id`` (or else the default expo), MOVE_BATCH at a time, each batch
        in one write per event. Returns how many were moved; moving twice moves nothing."""
        moved = 0
        while True:
            batch = self.registrations.collection.find({"event_id": {"$exists": False}}, {"expo_id": 1})
            by_event = defaultdict(list)
            for document in batch.limit(MOVE_BATCH):
                by_event[document.get("expo_id") or self.default_event["_id"]].append(document["_id"])
            written = 0
            for event_id, ids in by_event.items():
                written += self.registrations.collection.update_many(
                    {"_id": {"$in": ids}, "event_id": {"$exists": False}},
                    # the version moves on, so a change read before this is saved only after
                    # reading the registration again, with its event
                    {"$set": {"event_id": event_id}, "$unset": {"expo_id": ""}, "$inc": {"_v": 1}},
                ).modified_count
            if not written:
                return moved
            moved += written

    def upgrade_stored(self) -> int:
        """Write registrations stored by an earlier version back in today's shape (domain.upgrade;
        every one made since has a ``reference`` and no sensitive visitor type in plain text), so
        that searches find them by e-mail address and number, and that type is sealed or gone.
        Returns how many were written."""
        written = 0
        old = {
            "status": {"$ne": "erased"},
            "$or": [
                {"reference": {"$exists": False}},
                # stored in plain text by an earlier version
                {"attendee_type": {"$in": list(SENSITIVE_ATTENDEE_TYPES)}},
            ],
        }
        for document in self.registrations.collection.find(old):
            try:
                self.registrations.save(self._seal(self._open(document)), [])
            except ConcurrentUpdate:
                # changed meanwhile: by this version in today's shape, or by an older one still
                # running; either way every read upgrades it, and the next start writes it
                continue
            written += 1
        return written

    def give_badges(self) -> int:
        """Give a check-in code to every active registration stored before there were badges
        (a random code each, so one write each). Returns how many were given one."""
        given = 0
        for document in self.registrations.collection.find(
            {"status": "active", "checkin_code": {"$exists": False}}, {"_id": 1}
        ):
            given += self.registrations.collection.update_one(
                {"_id": document["_id"], "checkin_code": {"$exists": False}},
                {"$set": {"checkin_code": badges.new_code()}, "$inc": {"_v": 1}},
            ).modified_count
        return given

    def refresh_contacts(self, limit: int = REFRESH_BATCH) -> list[str]:
        """Mark up to ``limit`` registrations due a refresh of their contact in notification
        (domain.refresh_contact), each in one write with the event that does it; the ids of those
        given one, for the relay. A registration changed meanwhile (by a request, or refreshed by
        another instance) is not written: the next round finds it again if it is still due."""
        due = self.registrations.collection.find({domain.CONTACT_REFRESHED: {"$in": REFRESH_DUE}})
        refreshed = []
        for document in due.limit(limit):
            marked, events = domain.refresh_contact(self._open(document))
            try:
                self.registrations.save(self._seal(marked), events)
            except ConcurrentUpdate:
                continue
            if events:
                refreshed.append(document["_id"])
        return refreshed

    # --- check-in at the door ----------------------------------------------------------------

    def find_by_badge(self, code: str) -> dict | None:
        return self._open(self.registrations.collection.find_one({"checkin_code": code}))

    def record_check_in(self, document: dict, at: str, by: str) -> bool:
        """Check in the holder of ``document``'s badge once: False if they were already (or the
        badge was revoked or cancelled meanwhile). The version moves on, so a change read before
        this is saved only after reading the registration again, with its check-in."""
        result = self.registrations.collection.update_one(
            {
                "_id": document["_id"],
                "checkin_code": document["checkin_code"],
                "status": "active",
                "checked_in_at": {"$exists": False},
            },
            {"$set": {"checked_in_at": at, "checked_in_by": by}, "$inc": {"_v": 1}},
        )
        if result.modified_count == 1:
            self._tally(document["event_id"], 1, domain.party_size(document))
        return result.modified_count == 1

    def undo_check_in(self, registration_id: str) -> bool:
        """False if the registration was not checked in."""
        undone = self.registrations.collection.find_one_and_update(
            {"_id": registration_id, "checked_in_at": {"$exists": True}},
            {"$unset": {"checked_in_at": "", "checked_in_by": ""}, "$inc": {"_v": 1}},
            projection={"event_id": 1, "companions": 1},
        )
        if undone is not None:
            self._tally(undone["event_id"], -1, -domain.party_size(undone))
        return undone is not None

    def door_tally(self, event_id: str) -> dict:
        """How many registrations, and people, are checked in at the event, as counted at the
        door: kept as they come, since counting them would read every registration for the event,
        too slow for every badge scanned."""
        tally = self.door_tallies.find_one({"_id": event_id}) or {}
        return {
            "checked_in": tally.get("checked_in", 0),
            "checked_in_people": tally.get("checked_in_people", 0),
        }

    def recount_door(self, event_id: str) -> dict:
        """Count the event's registrations (counts_by_event), and set the door's tally from them
        if nothing was checked in or undone while they were read: a tally a crash left one short
        between its two writes is right again at the next quiet moment."""
        before = self.door_tallies.find_one({"_id": event_id}) or {"changes": 0}
        counted = self.counts_of_event(event_id)
        exact = {key: counted[key] for key in ("checked_in", "checked_in_people")}
        if exact != {key: before.get(key, 0) for key in exact}:
            try:
                self.door_tallies.update_one(
                    {"_id": event_id, "changes": before["changes"]},
                    {"$set": exact},
                    upsert="_id" not in before,
                )
            except DuplicateKeyError:
                pass  # the first check-in made the tally meanwhile
        return counted

    def _tally(self, event_id: str, registrations: int, people: int) -> None:
        self.door_tallies.update_one(
            {"_id": event_id},
            {"$inc": {"checked_in": registrations, "checked_in_people": people, "changes": 1}},
            upsert=True,
        )

    def ping(self) -> None:
        self.database.command("ping")

    def get(self, registration_id: str) -> dict | None:
        return self._open(self.registrations.get(registration_id))

    def find_by_token_hash(self, token_hash: str) -> dict | None:
        return self._open(self.registrations.collection.find_one({"token_hash": token_hash}))

    def add(self, document: dict, events: list[dict]) -> dict:
        try:
            return self._open(self.registrations.insert(self._seal(document), events))
        except DuplicateKeyError as error:
            raise _conflict(document) from error

    def modify(
        self, registration_id: str, decide: Callable[[dict], tuple[dict, list[dict]]]
    ) -> tuple[dict, list[dict]]:
        """Read, decide the change, save; read again and decide again if someone else won."""
        for _ in range(SAVE_ATTEMPTS):
            current = self.get(registration_id)
            changed, events = decide(current)
            if not events:
                return changed, events
            try:
                return self._open(self.registrations.save(self._seal(changed), events)), events
            except ConcurrentUpdate:
                continue
            except DuplicateKeyError as error:
                raise _conflict(changed) from error
        raise Conflict("The registration is being changed by another request; try again.")

    def public_profiles(self, ids: list[str]) -> list[dict]:
        return list(self.registrations.collection.find({"_id": {"$in": ids}, "status": "active"}))

    def active_parties(self, ids: list[str]) -> list[dict]:
        """The active companies and investors among ``ids`` (accessibility needs are attendees')."""
        query = {"_id": {"$in": ids}, "status": "active", "kind": {"$in": list(domain.MATCHABLE_KINDS)}}
        return [self._open(document) for document in self.registrations.collection.find(query, {SEALED: 0})]

    def registrations_of(self, email_key: str) -> list[dict]:
        """The non-erased registrations with that address, newest first."""
        query = {"email_key": email_key, "status": {"$ne": "erased"}}
        cursor = self.registrations.collection.find(query).sort(NEWEST_FIRST)
        return [self._open(document) for document in cursor]

    def mark_email_verified(self, email_key: str, now: str) -> None:
        """Note that the address of these registrations was proved now, where it was not yet."""
        self.registrations.collection.update_many(
            {"email_key": email_key, "status": {"$ne": "erased"}, "email_verified_at": {"$exists": False}},
            # the version moves on, so a change read before this is saved only after reading it again
            {"$set": {"email_verified_at": now}, "$inc": {"_v": 1}},
        )

    def rows(self, query: dict, skip: int, limit: int) -> list[dict]:
        """Registrations matching ``query`` for an organiser's list, newest first, each with
        ``has_accessibility_needs`` and without the needs (their sealed text is read, not opened)."""
        projection = {field: 1 for field in [*ROW_PROJECTION, SEALED]}
        cursor = self.registrations.collection.find(query, projection).sort(NEWEST_FIRST)
        rows = []
        for document in cursor.skip(skip).limit(limit):
            has_needs = document.pop(SEALED, None) is not None
            rows.append({**domain.upgrade(document), "has_accessibility_needs": has_needs})
        return rows

    def needs_of_event(self, event_id: str) -> list[dict]:
        """The event's active registrations with their accessibility needs opened (and nothing
        else sensitive: the visitor type stays sealed), for what to prepare at the event."""
        cursor = self.registrations.collection.find({"event_id": event_id}, list(NEEDS_PROJECTION))
        # by the indexed event alone, the status compared here (see unerased_of_event)
        return [self._open(document) for document in cursor if document["status"] == "active"]

    def cancelled_before(self, before: str, limit: int) -> list[str]:
        """The ids of up to ``limit`` registrations cancelled before ``before``."""
        query = {"status": "cancelled", "cancelled_at": {"$lt": before}}
        return [
            document["_id"] for document in self.registrations.collection.find(query, {"_id": 1}).limit(limit)
        ]

    def count_matching(self, query: dict) -> int:
        return self.registrations.collection.count_documents(query)

    def census(self) -> list[dict]:
        """Kind, status, companions and needs of every registration, in one pass. Nine
        count_documents (kind × status) cost nine scans on the embedded store, each as long as
        this one; on MongoDB too it is one scan of small projections."""
        cursor = self.registrations.collection.find({}, {"kind": 1, "status": 1, "companions": 1, SEALED: 1})
        return [self._open(document) for document in cursor]

    def event_census(self) -> list[dict]:
        """Kind, status, companions, event and check-in of every registration, in one pass (see
        census)."""
        projection = {
            "kind": 1,
            "status": 1,
            "companions": 1,
            "event_id": 1,
            "expo_id": 1,
            "checked_in_at": 1,
        }
        return [domain.upgrade(document) for document in self.registrations.collection.find({}, projection)]

    def counts_of_event(self, event_id: str) -> dict[str, int]:
        """The event's active registrations of each kind, companions, and check-ins
        (domain.counts_by_event), read from its registrations alone."""
        counts = domain.counts_by_event(self.census_of_event(event_id), event_id)
        return counts.get(event_id, dict.fromkeys(domain.COUNTED, 0))

    def census_of_event(self, event_id: str) -> list[dict]:
        """Kind, status, companions and check-in of every registration for the event."""
        projection = {"kind": 1, "status": 1, "companions": 1, "checked_in_at": 1}
        return list(self.registrations.collection.find({"event_id": event_id}, projection))

    def unerased_of_event(self, event_id: str, limit: int) -> list[str]:
        """The ids of up to ``limit`` registrations for the event not erased yet."""
        # by the indexed event alone, the status compared here: the embedded store would read
        # the whole collection for a condition on two fields
        cursor = self.registrations.collection.find({"event_id": event_id}, {"status": 1})
        return [document["_id"] for document in cursor if document["status"] != "erased"][:limit]

    # --- events -----------------------------------------------------------------------------

    def event(self, event_id: str) -> dict | None:
        """One event, or None; read with the other reads made at the same moment (every
        registration reads its event)."""
        return self.events.get(event_id)

    def all_events(self) -> list[dict]:
        return list(self.events.collection.find())

    def add_event(self, document: dict) -> dict:
        """Store a new event, with the event that tells everyone else of it."""
        announced = {**document, ANNOUNCED: document["revision"]}
        return self.events.insert(announced, domain.programme_event_changed(None, document))

    def modify_event(self, event_id: str, decide: Callable[[dict], dict]) -> dict:
        """Read, decide the change, save; read again and decide again if someone else won.
        A change of what everyone may see is saved with the event that tells of it."""
        for _ in range(SAVE_ATTEMPTS):
            current = self.event(event_id)
            if current is None:
                raise NotFound(f"No event {event_id!r}.")
            changed = decide(current)
            if changed is current:
                return current
            try:
                return self.events.save(
                    {**changed, ANNOUNCED: changed["revision"]},
                    domain.programme_event_changed(current, changed),
                )
            except ConcurrentUpdate:
                continue
        raise Conflict("The event is being changed by another request; try again.")

    # --- places and waiting lists --------------------------------------------------------

    def claim_seats(self, event_id: str, registration_id: str, capacity: int, size: int, now: str) -> bool:
        """Hold ``size`` places at the event for the registration, all or none; True if it holds
        them. Places it holds already count (claiming again, after a crash, claims the rest).
        The unique id of each place keeps the capacity whatever claims at the same moment: an
        insert that loses a place to another is retried on other free ones, a few rounds; if
        fewer than ``size`` can be had, those this call obtained are given back."""
        held = self.seats_of(registration_id)
        obtained: list[str] = []
        for _ in range(CLAIM_ROUNDS):
            missing = size - len(held) - len(obtained)
            if missing <= 0:
                break
            taken = {
                domain.seat_number(seat["_id"])
                for seat in self.seats.find({"event_id": event_id}, {"_id": 1})
            }
            numbers = domain.choose_seats(capacity, taken, missing, self.rng)
            if len(numbers) < missing:
                break
            obtained += self._insert_seats(event_id, registration_id, numbers, now)
        if len(held) + len(obtained) < size:
            self.release_seats(obtained)
            return False
        # two claims for the same registration at once (two promotions) may both succeed: read
        # again after inserting, so the last of them sees every place the registration holds
        self.trim_seats(registration_id, size)
        return True

    def _insert_seats(self, event_id: str, registration_id: str, numbers: list[int], now: str) -> list[str]:
        """Insert the places, unordered; the ids of those inserted (others were taken meanwhile)."""
        ids = [domain.seat_id(event_id, number) for number in numbers]
        documents = [
            {"_id": seat, "event_id": event_id, "registration_id": registration_id, "claimed_at": now}
            for seat in ids
        ]
        try:
            self.seats.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            errors = error.details["writeErrors"]
            if any(failure["code"] != DUPLICATE_KEY for failure in errors):
                raise
            lost = {ids[failure["index"]] for failure in errors}
            return [seat for seat in ids if seat not in lost]
        return ids

    def seat_unseated(self, event: dict, now: str) -> int:
        """Give places to the event's active registrations that hold none though they should: those
        stored before events had places (no admission), and those admitted before the event had a
        capacity. In the order they registered; one stored before that finds no place waits (from
        when it registered); one admitted before keeps its admission, beyond the capacity. Done as
        the service starts and when a capacity is set; how many were given places."""
        if not domain.has_capacity(event):
            return 0
        holders = {
            seat["registration_id"]
            for seat in self.seats.find({"event_id": event["_id"]}, {"registration_id": 1})
        }
        projection = {"status": 1, "admission": 1, "companions": 1, "created_at": 1}
        unseated = [
            document
            for document in self.registrations.collection.find({"event_id": event["_id"]}, projection)
            if document["status"] == "active"
            and document.get("admission", domain.ADMITTED) == domain.ADMITTED
            and document["_id"] not in holders
        ]
        seated = 0
        for document in sorted(
            unseated, key=lambda document: (document.get("created_at", ""), document["_id"])
        ):
            if self.claim_seats(
                event["_id"], document["_id"], event["capacity"], domain.party_size(document), now
            ):
                change = {"admission": domain.ADMITTED}
                seated += 1
            else:
                change = {"admission": domain.WAITING, "waiting_since": document.get("created_at", now)}
            self.registrations.collection.update_one(
                {"_id": document["_id"], "admission": {"$exists": False}},
                # the version moves on, so a change read before this is saved only after reading it again
                {"$set": change, "$inc": {"_v": 1}},
            )
        return seated

    def take_promotion(self, registration_id: str, now: str, until: str) -> bool:
        """Become the one process promoting this waiting registration until ``until``; False if
        another is at it. Two claims at once for one registration could otherwise both insert
        places, and one giving back its own after the other counted them leave it short."""
        taken = self.registrations.collection.update_one(
            {
                "_id": registration_id,
                "admission": domain.WAITING,
                "$or": [{"promoting_until": {"$exists": False}}, {"promoting_until": {"$lte": now}}],
            },
            # the version moves on, so a change read before this is saved only after reading it again
            {"$set": {"promoting_until": until}, "$inc": {"_v": 1}},
        )
        return taken.modified_count == 1

    def give_up_promotion(self, registration_id: str) -> None:
        self.registrations.collection.update_one(
            {"_id": registration_id}, {"$unset": {"promoting_until": ""}, "$inc": {"_v": 1}}
        )

    def seats_of(self, registration_id: str) -> list[str]:
        return [seat["_id"] for seat in self.seats.find({"registration_id": registration_id}, {"_id": 1})]

    def release_seats(self, seat_ids: list[str]) -> None:
        if seat_ids:
            self.seats.delete_many({"_id": {"$in": seat_ids}})

    def release_seats_of(self, registration_id: str) -> None:
        self.seats.delete_many({"registration_id": registration_id})

    def trim_seats(self, registration_id: str, size: int) -> None:
        """Give back the places beyond ``size`` (fewer companions)."""
        self.release_seats(domain.surplus_seats(self.seats_of(registration_id), size))

    def waiting(self) -> list[dict]:
        """Every registration on a waiting list (each event's line is read from these)."""
        projection = {"event_id": 1, "waiting_since": 1, "companions": 1, "admission": 1, "status": 1}
        cursor = self.registrations.collection.find({"admission": domain.WAITING}, projection)
        return [document for document in cursor if document["status"] == "active"]

    def expired_offers(self, now: str) -> list[str]:
        """The ids of registrations offered places they did not confirm before ``now``."""
        cursor = self.registrations.collection.find({"admission": domain.OFFERED}, {"offer_expires_at": 1})
        return [document["_id"] for document in cursor if document["offer_expires_at"] <= now]

    def waiting_for(self, event_id: str) -> list[dict]:
        """The event's waiting line, first in line first."""
        return domain.waiting_line(
            [document for document in self.waiting() if document["event_id"] == event_id]
        )

    def seats_taken(self) -> Counter:
        """Places taken per event."""
        return Counter(seat["event_id"] for seat in self.seats.find({}, {"event_id": 1}))

    def seats_taken_at(self, event_id: str) -> int:
        return self.seats.count_documents({"event_id": event_id})

    def stray_seats(self, claimed_before: str) -> list[str]:
        """Places claimed before ``claimed_before`` for no registration admitted or offered them:
        a process died between claiming them and storing the registration, or before promoting it."""
        seats = list(self.seats.find({"claimed_at": {"$lt": claimed_before}}, {"registration_id": 1}))
        holders = {seat["registration_id"] for seat in seats}
        admitted = {
            document["_id"]
            for document in self.registrations.collection.find(
                {"_id": {"$in": list(holders)}}, {"admission": 1, "status": 1}
            )
            if document.get("admission") in domain.SEATED and document["status"] == "active"
        }
        return [seat["_id"] for seat in seats if seat["registration_id"] not in admitted]

    # --- key rotation ----------------------------------------------------------------------

    def reseal_with_newest_key(self) -> dict[str, int]:
        """Seal again, with the newest key, every sealed field sealed with an older one.

        Each document is written only if its sealed fields are still those read (a compare and
        set on the sealed text): a change saved meanwhile was sealed with the newest key already,
        so it is left as it is. Rounds go on until a round finds nothing sealed with an older
        key; answers how many documents were resealed and how many were left (sealed with an
        older key after ten rounds: registrations changed all the time, or a process still
        sealing with an older key)."""
        resealed = 0
        sealed_fields = (SEALED, TYPE_SEALED)
        query = {"$or": [{field: {"$exists": True}} for field in sealed_fields]}
        for _ in range(10):
            older = []
            for document in self.registrations.collection.find(query, {field: 1 for field in sealed_fields}):
                present = {field: document[field] for field in sealed_fields if field in document}
                if not all(self.sealer.sealed_with_newest(value) for value in present.values()):
                    older.append((document["_id"], present))
            if not older:
                return {"resealed": resealed, "left": 0}
            for registration_id, present in older:
                renewed = {field: self.sealer.reseal(value) for field, value in present.items()}
                written = self.registrations.collection.update_one(
                    {"_id": registration_id, **present}, {"$set": renewed}
                )
                resealed += written.modified_count
        return {"resealed": resealed, "left": len(older)}

    # --- sign-in links ---------------------------------------------------------------------

    def sign_in_links_of(self, email_key: str) -> list[dict]:
        return list(self.sign_in_links.collection.find({"email": email_key}, {"slot": 1, "expires_at": 1}))

    def add_sign_in_link(self, document: dict, events: list[dict]) -> bool:
        """Store a link with the event that e-mails it; False if its slot was taken meanwhile."""
        try:
            self.sign_in_links.insert(document, events)
        except DuplicateKeyError:
            return False
        return True

    def use_sign_in_link(self, token_hash: str, now: str) -> dict | None:
        """Mark the link used, if it is unused and unexpired, and return it; else None. One
        atomic write: a link opened twice at once signs in once."""
        return self.sign_in_links.collection.find_one_and_update(
            {"_id": token_hash, "used_at": None, "expires_at": {"$gt": now}},
            {"$set": {"used_at": now}},
            projection={"email": 1},
            return_document=ReturnDocument.AFTER,
        )

    def forget_sign_in_links(self, ids: list[str]) -> None:
        if ids:
            self.sign_in_links.collection.delete_many({"_id": {"$in": ids}})

    def forget_expired_sign_in_links(self, now: str) -> int:
        """Delete links that expired (used or not, their e-mail sent or not): they open nothing."""
        expired = self.sign_in_links.collection.find({"expires_at": {"$lte": now}}, {"_id": 1})
        ids = [document["_id"] for document in expired.limit(FORGET_BATCH)]
        self.forget_sign_in_links(ids)
        return len(ids)

    # --- audit log -------------------------------------------------------------------------

    def add_audit(self, record: dict) -> None:
        self.audit.insert_one(record)

    def audit_log(self, limit: int) -> list[dict]:
        cursor = self.audit.find().sort([("at", DESCENDING), ("_id", DESCENDING)]).limit(limit)
        return [{"id": record.pop("_id"), **record} for record in cursor]

    def _seal(self, document: dict) -> dict:
        sealed = {key: value for key, value in document.items() if key != "accessibility_needs"}
        if document.get("accessibility_needs"):
            sealed[SEALED] = self.sealer.seal(document["accessibility_needs"])
        if domain.has_sensitive_type(document):
            sealed[TYPE_SEALED] = self.sealer.seal(sealed.pop("attendee_type"))
        return sealed

    def _open(self, document: Any) -> dict | None:
        """A stored registration as the domain knows it: needs and visitor type opened, in
        today's shape."""
        if document is None:
            return None
        opened = {key: value for key, value in document.items() if key not in (SEALED, TYPE_SEALED)}
        if SEALED in document:
            opened["accessibility_needs"] = self.sealer.open(document[SEALED])
        if TYPE_SEALED in document:
            opened["attendee_type"] = self.sealer.open(document[TYPE_SEALED])
        return domain.upgrade(opened)


def _conflict(document: dict) -> Conflict:
    return Conflict(f"A {document['kind']} registration with this e-mail already exists for this event.")
