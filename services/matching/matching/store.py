"""The matching service's own database: its read model of parties, the suggestions, interests.

Parties are built only from registration events; suggestions and interests are aggregates whose
outboxes carry the events for the notification service.

Counterparts are found through ``party_tags``: one entry per active party and tag, holding the
party's profile. Finding who carries a tag is then an equality on one indexed field, which every
store answers from its index; a query on the parties' ``tags`` array would be a scan of every
party on the embedded store, which indexes neither array elements nor ``$in``.
"""

import time
from collections.abc import Callable, Iterable

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from matching.domain import Match, Profile, weights_from_counts
from shared import clock
from shared.aggregates import VERSION, AggregateCollection
from shared.batching import DUPLICATE_KEY
from shared.mongo import delete_by_index

COUNTERPART_FIELD = {"investor": "company_id", "company": "investor_id"}
COUNTERPART_KIND = {"investor": "company", "company": "investor"}
OWN_FIELD = {"investor": "investor_id", "company": "company_id"}
# whether each side of a pair has been told of it ("yes"/"no": the embedded store turns
# booleans written by $set into integers)
ANNOUNCED = {"investor": "announced_to_investor", "company": "announced_to_company"}
WEIGHTS_MAX_AGE_SECONDS = 5.0
# marks that party_tags holds every party stored before it existed
TAG_INDEX_BUILT = "built"


class MatchingStore:
    def __init__(self, database: Database) -> None:
        self.parties = AggregateCollection(database["parties"])
        self.suggestions = AggregateCollection(database["suggestions"])
        self.interests = AggregateCollection(database["interests"])
        self.party_tags = database["party_tags"]
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
                try:
                    self.party_tags.bulk_write(writes, ordered=False)
                except BulkWriteError as error:
                    # a duplicate key: that entry is already of a newer revision
                    if any(failure["code"] != DUPLICATE_KEY for failure in error.details["writeErrors"]):
                        raise
            stored = self.party(party["_id"])
            if stored is None or stored[VERSION] == party[VERSION]:
                return
            party, new = stored, False

    def counterparts_sharing(self, kind: str, tags: Iterable[str]) -> list[Profile]:
        """The active counterparts of a ``kind`` party that carry at least one of ``tags``."""
        counterpart_kind = COUNTERPART_KIND[kind]
        newest: dict[str, dict] = {}
        for tag in set(tags):
            for entry in self.party_tags.find({"key": _tag_key(counterpart_kind, tag)}):
                known = newest.get(entry["party_id"])
                # a change being handled elsewhere may briefly leave entries of two revisions
                if known is None or known["revision"] < entry["revision"]:
                    newest[entry["party_id"]] = entry
        return [
            Profile(party_id, counterpart_kind, tuple(entry["tags"]), tuple(entry["stages"]))
            for party_id, entry in newest.items()
        ]

    def tag_weights(self) -> dict[str, float]:
        """Every tag's weight among the active parties. Working it out reads every party, and a
        tag's rarity drifts slowly, so it is worked out again at most every few seconds."""
        now = time.monotonic()
        if self._weights is None or now - self._weights_at > WEIGHTS_MAX_AGE_SECONDS:
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

    def suggestions_of(self, kind: str, party_id: str, limit: int = 0) -> list[dict]:
        cursor = self.suggestions.collection.find({OWN_FIELD[kind]: party_id}, {"outbox": 0}).sort(
            [("score", DESCENDING), ("_id", ASCENDING)]
        )
        return list(cursor.limit(limit) if limit else cursor)

    def replace_suggestions(
        self, kind: str, party_id: str, matches: list[Match], announce: Callable[[Match], dict]
    ) -> list[str]:
        """Make the stored suggestions of a party equal ``matches``; returns the new pair ids.

        A new pair is inserted together with the event ``announce`` makes for the counterpart,
        and marked as announced to the counterpart and not yet to this party.
        """
        existing = {doc["_id"]: doc for doc in self.suggestions_of(kind, party_id)}
        now = clock.now_iso()
        inserted = []
        for match in matches:
            fields = {"score": match.score, "reasons": match.reasons, "updated_at": now}
            current = existing.pop(match.id, None)
            if current is None:
                document = {
                    "_id": match.id,
                    "investor_id": match.investor_id,
                    "company_id": match.company_id,
                    "created_at": now,
                    ANNOUNCED[kind]: "no",
                    ANNOUNCED[COUNTERPART_KIND[kind]]: "yes",
                    **fields,
                }
                try:
                    self.suggestions.insert(document, [announce(match)])
                    inserted.append(match.id)
                except DuplicateKeyError:
                    pass  # inserted meanwhile by the counterpart's own change
            elif (current["score"], current["reasons"]) != (match.score, match.reasons):
                self.suggestions.collection.update_one({"_id": match.id}, {"$set": fields})
        if existing:
            self.suggestions.collection.delete_many({"_id": {"$in": list(existing)}})
        return inserted

    def unannounced(self, kind: str, party_id: str) -> list[dict]:
        query = {OWN_FIELD[kind]: party_id, ANNOUNCED[kind]: "no"}
        return list(self.suggestions.collection.find(query, {"outbox": 0}))

    def mark_announced(self, kind: str, pair_ids: list[str]) -> None:
        self.suggestions.collection.update_many(
            {"_id": {"$in": pair_ids}}, {"$set": {ANNOUNCED[kind]: "yes"}}
        )

    def stage_party_event(self, party: dict, event: dict) -> None:
        """Add ``event`` to the party's outbox, once (a retried change derives the same id)."""
        if all(pending["event_id"] != event["event_id"] for pending in party.get("outbox", [])):
            self.parties.save(party, [event])

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


def _tag_key(kind: str, tag: str) -> str:
    return f"{kind}|{tag}"


def _tag_entries(party: dict) -> dict[str, dict]:
    """The ``party_tags`` entries an active party should have, by id; none for any other."""
    if party["status"] != "active":
        return {}
    entries = {}
    for tag in party["tags"]:
        key = _tag_key(party["kind"], tag)
        entries[f"{key}|{party['_id']}"] = {
            "key": key,
            "party_id": party["_id"],
            "revision": party["revision"],
            "tags": party["tags"],
            "stages": party["stages"],
        }
    return entries


def _without_id(fields: dict) -> dict:
    return {key: value for key, value in fields.items() if key != "id"}
