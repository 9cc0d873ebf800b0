"""The matching service's own database: its read model of parties, the suggestions, interests.

Parties are built only from registration events; suggestions and interests are aggregates whose
outboxes carry the events for the notification service.

Counterparts are found through ``party_tags``: one entry per active party and tag, holding the
party's profile. Finding who carries a tag is then an equality on one indexed field, which every
store answers from its index; a query on the parties' ``tags`` array would be a scan of every
party on the embedded store, which indexes neither array elements nor ``$in``.
"""

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from pymongo import ASCENDING, DESCENDING, DeleteOne, InsertOne, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from matching.domain import Kept, Match, Profile, Rematched, weights_from_counts
from shared import clock
from shared.aggregates import VERSION, AggregateCollection
from shared.mongo import WHOLE_RESULT_BATCH, delete_by_index, write_unordered

COUNTERPART_FIELD = {"investor": "company_id", "company": "investor_id"}
COUNTERPART_KIND = {"investor": "company", "company": "investor"}
OWN_FIELD = {"investor": "investor_id", "company": "company_id"}
# an earlier version stored a new pair marked "no" here until it had put it in an announcement
ANNOUNCED = "announced"
WEIGHTS_MAX_AGE_SECONDS = 5.0
# marks that party_tags holds every party stored before it existed
TAG_INDEX_BUILT = "built"
REMATCH_JOB = "rematch"
# a rematch that has not finished by then (its process died) may be started again
REMATCH_LEASE_SECONDS = 3600
# writes per bulk write of the rematch: each holds the store for its whole length (the embedded
# store runs one command of a database at a time), so registrations handled meanwhile wait at
# most for one such write
REMATCH_WRITES_PER_COMMAND = 500
# after each part of its work the rematch pauses this many times as long as the part took, so it
# has at most a quarter of the store's time while registrations go on (and less, the busier the
# store: a part then takes longer)
REMATCH_PAUSE_FACTOR = 3.0


class MatchingStore:
    def __init__(self, database: Database) -> None:
        self.parties = AggregateCollection(database["parties"])
        self.suggestions = AggregateCollection(database["suggestions"])
        self.interests = AggregateCollection(database["interests"])
        self.party_tags = database["party_tags"]
        self.jobs = database["jobs"]
        self._weights: dict[str, float] | None = None
        self._weights_at = 0.0

    def prepare(self) -> None:
        for aggregates in (self.parties, self.suggestions, self.interests):
            aggregates.ensure_indexes()
        # single-field indexes: the embedded store uses an index for one field of a query and
        # ignores compound ones; a party's suggestions are few enough to sort as read
        for field in ("investor_id", "company_id"):
            self.suggestions.collection.create_index([(field, ASCENDING)])
            self.interests.collection.create_index([(field, ASCENDING)])
        for field in ("key", "party_id"):
            self.party_tags.create_index([(field, ASCENDING)])
        if self.party_tags.find_one({"_id": TAG_INDEX_BUILT}) is None:
            # parties stored by a version without party_tags; entering one twice is harmless
            for party in self.parties.collection.find({"status": "active"}, {"outbox": 0}):
                self.index_tags(party)
            self.party_tags.replace_one({"_id": TAG_INDEX_BUILT}, {"_id": TAG_INDEX_BUILT}, upsert=True)
        try:
            self.jobs.insert_one(
                {"_id": REMATCH_JOB, "next_at": clock.now_iso(), "lease_until": clock.now_iso()}
            )
        except DuplicateKeyError:
            pass  # made by an earlier start, or by another instance starting now

    # parties

    def party(self, party_id: str) -> dict | None:
        return self.parties.get(party_id)

    def put_party(self, current: dict | None, fields: dict) -> dict:
        """Insert or replace a party; raises on a concurrent write (the event is then retried)."""
        if current is None:
            return self.parties.insert({"_id": fields["id"], **_without_id(fields)})
        return self.parties.save({**current, **_without_id(fields)})

    def index_tags(self, party: dict, new: bool = False) -> None:
        """Make the party's ``party_tags`` entries those of the party as stored; ``new`` says
        the party was first stored by this change, so it has no entries yet.

        Two changes of one party may be handled at once. An entry is never replaced or removed
        by an older revision than its own, but the older change may still enter a tag the newer
        one dropped. So once its entries are written, the party is read again; if it changed
        meanwhile, its entries are made again from what is stored now.
        """
        while True:
            revision = party["revision"]
            wanted = _tag_entries(party)
            if not new:
                entries = self.party_tags.find({"party_id": party["_id"]}, {"_id": 1})
                unwanted = [entry["_id"] for entry in entries if entry["_id"] not in wanted]
                if unwanted:
                    self.party_tags.delete_many({"_id": {"$in": unwanted}, "revision": {"$lt": revision}})
            if wanted:
                writes = [
                    UpdateOne({"_id": entry_id, "revision": {"$lte": revision}}, {"$set": entry}, upsert=True)
                    for entry_id, entry in wanted.items()
                ]
                # a duplicate key: that entry is already of a newer revision
                write_unordered(self.party_tags, writes)
            stored = self.party(party["_id"])
            if stored is None or stored[VERSION] == party[VERSION]:
                return
            party, new = stored, False

    def counterparts_sharing(self, kind: str, tags: Iterable[str]) -> list[Profile]:
        """The active counterparts of a ``kind`` party that carry at least one of ``tags``."""
        counterpart_kind = COUNTERPART_KIND[kind]
        newest: dict[str, dict] = {}
        for tag in set(tags):
            entries = self.party_tags.find(
                {"key": _tag_key(counterpart_kind, tag)}, batch_size=WHOLE_RESULT_BATCH
            )
            for entry in entries:
                known = newest.get(entry["party_id"])
                # a change being handled elsewhere may briefly leave entries of two revisions
                if known is None or known["revision"] < entry["revision"]:
                    newest[entry["party_id"]] = entry
        return [
            Profile(
                party_id,
                counterpart_kind,
                tuple(entry["tags"]),
                tuple(entry["stages"]),
                _floor(entry.get("floor")),
            )
            for party_id, entry in newest.items()
        ]

    def set_floor(self, party: dict, floor: float | None) -> None:
        """Record the party's floor in its entries (where its counterparts read it), unless the
        party has changed since."""
        entry_ids = list(_tag_entries(party))
        if entry_ids:
            self.party_tags.update_many(
                {"_id": {"$in": entry_ids}, "revision": party["revision"]},
                {"$set": {"floor": floor}},
            )

    def active_parties(self) -> list[dict]:
        """Every active party's id, kind, revision, tags and stages."""
        projection = {"kind": 1, "revision": 1, "tags": 1, "stages": 1}
        return list(self.parties.collection.find({"status": "active"}, projection))

    def tag_weights(self, fresh: bool = False) -> dict[str, float]:
        """Every tag's weight among the active parties. Working it out reads every party, and a
        tag's rarity drifts slowly, so it is worked out again at most every few seconds (or
        now, if ``fresh``)."""
        now = time.monotonic()
        if fresh or self._weights is None or now - self._weights_at > WEIGHTS_MAX_AGE_SECONDS:
            active = {"$match": {"status": "active"}}
            carrying = self.parties.collection.aggregate(
                [active, {"$unwind": "$tags"}, {"$group": {"_id": "$tags", "count": {"$sum": 1}}}]
            )
            population = sum(self._active_by_kind().values())
            self._weights = weights_from_counts({row["_id"]: row["count"] for row in carrying}, population)
            self._weights_at = now
        return self._weights

    def is_active(self, party_id: str, kind: str) -> bool:
        query = {"_id": party_id, "kind": kind, "status": "active"}
        return self.parties.collection.find_one(query, {"_id": 1}) is not None

    # suggestions

    def suggestion(self, pair_id: str) -> dict | None:
        return self.suggestions.get(pair_id)

    def suggestions_of(self, kind: str, party_id: str, limit: int = 0) -> list[dict]:
        # no projection: a pair's outbox is empty once its events are sent, and the embedded
        # store copies every document it projects (a third of this read's cost for 100 pairs)
        cursor = self.suggestions.collection.find(
            {OWN_FIELD[kind]: party_id}, batch_size=WHOLE_RESULT_BATCH
        ).sort([("score", DESCENDING), ("_id", ASCENDING)])
        return list(cursor.limit(limit) if limit else cursor)

    def best_scores(self, kind: str, party_id: str, limit: int) -> list[float]:
        """The scores of the party's ``limit`` best stored pairs, best first."""
        cursor = self.suggestions.collection.find({OWN_FIELD[kind]: party_id}, {"score": 1})
        cursor = cursor.sort([("score", DESCENDING), ("_id", ASCENDING)]).limit(limit)
        return [doc["score"] for doc in cursor]

    def store_pairs(self, stored: Mapping[str, dict], kept: list[Kept]) -> None:
        """Make a party's stored pairs (``stored``, by id) those ``kept``, in one bulk write:
        new pairs inserted, changed ones updated, the others removed."""
        now = clock.now_iso()
        writes: list = []
        for match in (item.match for item in kept):
            fields = {"score": match.score, "reasons": match.reasons, "updated_at": now}
            current = stored.get(match.id)
            if current is None:
                new = {"investor_id": match.investor_id, "company_id": match.company_id, "created_at": now}
                writes.append(InsertOne({"_id": match.id, **new, **fields}))
            elif current.get(ANNOUNCED) == "no":
                writes.append(UpdateOne({"_id": match.id}, {"$set": fields, "$unset": {ANNOUNCED: ""}}))
            elif (current["score"], current["reasons"]) != (match.score, match.reasons):
                writes.append(UpdateOne({"_id": match.id}, {"$set": fields}))
        kept_ids = {item.match.id for item in kept}
        writes += [DeleteOne({"_id": pair_id}) for pair_id in stored if pair_id not in kept_ids]
        if writes:
            # a duplicate key: a pair another worker inserted at the same moment
            write_unordered(self.suggestions.collection, writes)

    def stage_party_events(self, party: dict, events: list[dict]) -> None:
        """Add ``events`` to the party's outbox, once (a retried change derives the same ids)."""
        staged = {pending["event_id"] for pending in party.get("outbox", [])}
        new = [event for event in events if event["event_id"] not in staged]
        if new:
            self.parties.save(party, new)

    def remove_suggestions_of(self, kind: str, party_id: str) -> None:
        delete_by_index(self.suggestions.collection, {OWN_FIELD[kind]: party_id})

    # interests

    def interest(self, interest_id: str) -> dict | None:
        return self.interests.get(interest_id)

    def add_interest(self, document: dict, events: list[dict]) -> dict:
        return self.interests.insert(document, events)

    def save_interest(self, document: dict, events: list[dict]) -> dict:
        return self.interests.save(document, events)

    def interests_of(self, kind: str, party_id: str) -> dict[str, dict]:
        cursor = self.interests.collection.find({OWN_FIELD[kind]: party_id}, {"outbox": 0})
        return {doc["_id"]: doc for doc in cursor}

    def forget_party(self, kind: str, party_id: str) -> None:
        delete_by_index(self.party_tags, {"party_id": party_id})
        self.remove_suggestions_of(kind, party_id)
        delete_by_index(self.interests.collection, {OWN_FIELD[kind]: party_id})

    # the rematch

    def claim_rematch(self, force: bool = False) -> bool:
        """Take the rematch's lease if it is due (or if ``force``) and no one else holds it."""
        now = clock.now_iso()
        query = {"_id": REMATCH_JOB, "lease_until": {"$lte": now}}
        if not force:
            query["next_at"] = {"$lte": now}
        update = {"$set": {"lease_until": clock.iso_after(REMATCH_LEASE_SECONDS)}}
        return self.jobs.find_one_and_update(query, update) is not None

    def release_rematch(self) -> None:
        """Give up the lease of a rematch that failed: the next timer tries again."""
        self.jobs.update_one({"_id": REMATCH_JOB}, {"$set": {"lease_until": clock.now_iso()}})

    def rematch_done(self, every_seconds: float) -> None:
        now = clock.now_iso()
        self.jobs.update_one(
            {"_id": REMATCH_JOB},
            {"$set": {"lease_until": now, "last_at": now, "next_at": clock.iso_after(every_seconds)}},
        )

    def apply_rematch(self, rematched: Rematched, parties: list[dict], batch: int = 200) -> dict:
        """Bring every stored pair and floor to ``rematched`` (worked out from ``parties`` as
        read) without announcing anything, ``batch`` companies at a time, in bulk writes of at
        most REMATCH_WRITES_PER_COMMAND, pausing after each part (``_leaving_room``); returns
        how many pairs were added, updated and removed.

        Registrations go on meanwhile: a pair whose party changed since ``parties`` were read
        is left to that party's own handler, and a pair is updated or removed only if it is
        still as it was read here (``updated_at``); a new pair is inserted only if absent.
        """
        counts = {"added": 0, "updated": 0, "removed": 0}
        read_revisions = {party["_id"]: party["revision"] for party in parties}
        company_ids = [party["_id"] for party in parties if party["kind"] == "company"]
        for start in range(0, len(company_ids), batch):
            with _leaving_room():
                changes = [
                    change
                    for company_id in company_ids[start : start + batch]
                    for change in self._rematch_changes(company_id, rematched.pairs.get(company_id, []))
                ]
                changed = self._changed_since(read_revisions)
            writes = []
            for change in changes:
                if changed.isdisjoint(change.party_ids):
                    writes.append(change.write)
                    counts[change.effect] += 1
            _write_in_parts(self.suggestions.collection, writes)
        floors = [
            UpdateOne(
                {"_id": entry_id, "revision": party["revision"]},
                {"$set": {"floor": rematched.floors[party["_id"]]}},
            )
            for party in parties
            for entry_id in _entry_ids(party["kind"], party["_id"], party["tags"])
        ]
        _write_in_parts(self.party_tags, floors)
        return counts

    def _rematch_changes(self, company_id: str, matches: list[Match]) -> list["_PairChange"]:
        projection = {"score": 1, "reasons": 1, "updated_at": 1, "investor_id": 1}
        stored = {
            doc["_id"]: doc
            for doc in self.suggestions.collection.find(
                {"company_id": company_id}, projection, batch_size=WHOLE_RESULT_BATCH
            )
        }
        now = clock.now_iso()
        changes = []
        for match in matches:
            fields = {"score": match.score, "reasons": match.reasons, "updated_at": now}
            current = stored.pop(match.id, None)
            parties = (match.investor_id, company_id)
            if current is None:
                new = {"investor_id": match.investor_id, "company_id": company_id, "created_at": now}
                # not announced: a pair the rematch finds is shown in the lists, not e-mailed
                document = {**new, **fields}
                write = UpdateOne({"_id": match.id}, {"$setOnInsert": document}, upsert=True)
                changes.append(_PairChange(parties, "added", write))
            elif (current["score"], current["reasons"]) != (match.score, match.reasons):
                query = {"_id": match.id, "updated_at": current["updated_at"]}
                changes.append(_PairChange(parties, "updated", UpdateOne(query, {"$set": fields})))
        for pair_id, current in stored.items():
            write = DeleteOne({"_id": pair_id, "updated_at": current["updated_at"]})
            changes.append(_PairChange((current["investor_id"], company_id), "removed", write))
        return changes

    def _changed_since(self, read_revisions: Mapping[str, int]) -> set[str]:
        """The parties no longer active at the revision read."""
        now = {
            party["_id"]: party["revision"]
            for party in self.parties.collection.find({"status": "active"}, {"revision": 1})
        }
        return {party_id for party_id, revision in read_revisions.items() if now.get(party_id) != revision}

    def counts(self) -> dict:
        parties = self._active_by_kind()
        return {
            "active_companies": parties.get("company", 0),
            "active_investors": parties.get("investor", 0),
            "suggestions": self.suggestions.collection.count_documents({}),
            "interests": self.interests.collection.count_documents({}),
        }

    def _active_by_kind(self) -> dict[str, int]:
        rows = self.parties.collection.aggregate(
            [{"$match": {"status": "active"}}, {"$group": {"_id": "$kind", "count": {"$sum": 1}}}]
        )
        return {row["_id"]: row["count"] for row in rows}


def _write_in_parts(collection: Collection, writes: list) -> None:
    """Run the rematch's ``writes`` as unordered bulk writes of REMATCH_WRITES_PER_COMMAND,
    leaving room for other work after each."""
    for start in range(0, len(writes), REMATCH_WRITES_PER_COMMAND):
        with _leaving_room():
            write_unordered(collection, writes[start : start + REMATCH_WRITES_PER_COMMAND])


@contextmanager
def _leaving_room() -> Iterator[None]:
    """Pause after the rematch's work in the block, REMATCH_PAUSE_FACTOR times as long as it
    took (under nameko, ``time.sleep`` lets the service's other workers run meanwhile)."""
    started = time.monotonic()
    yield
    time.sleep((time.monotonic() - started) * REMATCH_PAUSE_FACTOR)


def _tag_key(kind: str, tag: str) -> str:
    return f"{kind}|{tag}"


def _tag_entries(party: dict) -> dict[str, dict]:
    """The ``party_tags`` entries an active party should have, by id; none for any other."""
    if party["status"] != "active":
        return {}
    common = {
        "party_id": party["_id"],
        "revision": party["revision"],
        "tags": party["tags"],
        "stages": party["stages"],
    }
    keys = (_tag_key(party["kind"], tag) for tag in party["tags"])
    ids = _entry_ids(party["kind"], party["_id"], party["tags"])
    return {entry_id: {"key": key, **common} for entry_id, key in zip(ids, keys, strict=True)}


def _entry_ids(kind: str, party_id: str, tags: Iterable[str]) -> list[str]:
    return [f"{_tag_key(kind, tag)}|{party_id}" for tag in tags]


@dataclass(frozen=True)
class _PairChange:
    party_ids: tuple[str, str]
    effect: str  # added, updated or removed
    write: UpdateOne | DeleteOne


def _floor(stored: float | list | None) -> float | None:
    # earlier versions stored a floor as [score, pair id]
    return stored[0] if isinstance(stored, list) else stored


def _without_id(fields: dict) -> dict:
    return {key: value for key, value in fields.items() if key != "id"}
