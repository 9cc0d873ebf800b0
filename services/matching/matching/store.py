"""The matching service's own database: its read model of parties, the suggestions, interests.

Parties are built only from registration events; suggestions and interests are aggregates whose
outboxes carry the events for the notification service.
"""

import time
from collections.abc import Callable, Iterable

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from matching.domain import Match, Profile, weights_from_counts
from shared import clock
from shared.aggregates import AggregateCollection

COUNTERPART_FIELD = {"investor": "company_id", "company": "investor_id"}
COUNTERPART_KIND = {"investor": "company", "company": "investor"}
OWN_FIELD = {"investor": "investor_id", "company": "company_id"}
# whether each side of a pair has been told of it ("yes"/"no": the embedded store turns
# booleans written by $set into integers)
ANNOUNCED = {"investor": "announced_to_investor", "company": "announced_to_company"}
WEIGHTS_MAX_AGE_SECONDS = 5.0


class MatchingStore:
    def __init__(self, database: Database) -> None:
        self.parties = AggregateCollection(database["parties"])
        self.suggestions = AggregateCollection(database["suggestions"])
        self.interests = AggregateCollection(database["interests"])
        self._weights: dict[str, float] | None = None
        self._weights_at = 0.0

    def prepare(self) -> None:
        for aggregates in (self.parties, self.suggestions, self.interests):
            aggregates.ensure_indexes()
        self.parties.collection.create_index(
            [("kind", ASCENDING), ("status", ASCENDING), ("tags", ASCENDING)]
        )
        # single-field indexes: the embedded store uses an index for one field of a query and
        # ignores compound ones; a party's suggestions are few enough to sort as read
        for field in ("investor_id", "company_id"):
            self.suggestions.collection.create_index([(field, ASCENDING)])
            self.interests.collection.create_index([(field, ASCENDING)])

    # parties

    def party(self, party_id: str) -> dict | None:
        return self.parties.get(party_id)

    def put_party(self, current: dict | None, fields: dict) -> dict:
        """Insert or replace a party; raises on a concurrent write (the event is then retried)."""
        if current is None:
            return self.parties.insert({"_id": fields["id"], **_without_id(fields)})
        return self.parties.save({**current, **_without_id(fields)})

    def counterparts_sharing(self, kind: str, tags: Iterable[str]) -> list[Profile]:
        """The active counterparts of a ``kind`` party that carry at least one of ``tags``."""
        query = {"kind": COUNTERPART_KIND[kind], "status": "active", "tags": {"$in": list(tags)}}
        cursor = self.parties.collection.find(query, {"kind": 1, "tags": 1, "stages": 1})
        return [Profile(doc["_id"], doc["kind"], tuple(doc["tags"]), tuple(doc["stages"])) for doc in cursor]

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
        self.suggestions.collection.delete_many({OWN_FIELD[kind]: party_id})

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
        self.remove_suggestions_of(kind, party_id)
        self.interests.collection.delete_many({OWN_FIELD[kind]: party_id})

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


def _without_id(fields: dict) -> dict:
    return {key: value for key, value in fields.items() if key != "id"}
