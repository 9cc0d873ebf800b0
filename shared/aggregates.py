"""Whole-document saves with optimistic concurrency, and the transactional outbox inside them.

An aggregate (a registration, an interest, a suggestion) is one document. A change is saved by
replacing the document only if nobody else changed it since it was read (``_v``), and the events
the change raised are written into the same document's ``outbox`` in that same single-document
write. So a change is never stored without its events, and no event is published for a change
that was not stored. The outbox relay publishes each pending event and then pulls it out.

Single-document atomicity is used instead of multi-document transactions because it works the
same on every MongoDB deployment and on the embedded store (whose concurrent transactions fail).
"""

from collections.abc import Iterable, Iterator
from typing import Any

from pymongo import ASCENDING
from pymongo.collection import Collection

from shared.batching import GroupedReads, GroupedWrites

VERSION = "_v"
OUTBOX = "outbox"
PENDING = "outbox_pending"


class ConcurrentUpdate(Exception):
    """The document changed between read and write; read it again and retry."""


class AggregateCollection:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        # read and written by every request and event: sent in batches when they come in bursts
        self._inserts = GroupedWrites(collection)
        self._reads = GroupedReads(collection)
        self._outbox_reads = GroupedReads(collection, {OUTBOX: 1, VERSION: 1})

    def ensure_indexes(self) -> None:
        self.collection.create_index([(PENDING, ASCENDING)], sparse=True)

    def get(self, aggregate_id: str) -> dict | None:
        return self._reads.find_one(aggregate_id)

    def insert(self, document: dict, events: Iterable[dict] = ()) -> dict:
        """Insert a new aggregate; raises DuplicateKeyError if a unique index refuses it."""
        stored = _with_outbox({**document, VERSION: 1}, [], list(events))
        self._inserts.insert_one(stored)
        return stored

    def save(self, document: dict, events: Iterable[dict] = ()) -> dict:
        """Replace ``document`` as read; raises ConcurrentUpdate if it changed meanwhile."""
        version = document[VERSION]
        stored = _with_outbox({**document, VERSION: version + 1}, document.get(OUTBOX, []), list(events))
        result = self.collection.replace_one({"_id": document["_id"], VERSION: version}, stored)
        if result.matched_count == 0:
            raise ConcurrentUpdate(document["_id"])
        return stored

    def pending_events(self, limit: int = 200) -> Iterator[tuple[Any, dict]]:
        cursor = self.collection.find({PENDING: {"$gt": 0}}, {OUTBOX: 1}).limit(limit)
        for document in cursor:
            for event in document.get(OUTBOX, []):
                yield document["_id"], event

    def outbox_of(self, aggregate_id: Any) -> list[dict]:
        document = self.pending_of(aggregate_id)
        return document.get(OUTBOX, []) if document else []

    def pending_of(self, aggregate_id: Any) -> dict | None:
        """The aggregate's id, version and outbox, or None."""
        return self._outbox_reads.find_one(aggregate_id)

    def mark_published(self, aggregate_id: Any, event_id: str) -> None:
        self.collection.update_one(
            {"_id": aggregate_id, "outbox.event_id": event_id},
            {"$pull": {OUTBOX: {"event_id": event_id}}, "$inc": {PENDING: -1, VERSION: 1}},
        )

    def mark_all_published(self, document: dict) -> bool:
        """Empty the outbox of ``document`` as read, in one write; False if it changed since
        (then mark each event with ``mark_published``)."""
        result = self.collection.update_one(
            {"_id": document["_id"], VERSION: document[VERSION]},
            {"$set": {OUTBOX: [], PENDING: 0}, "$inc": {VERSION: 1}},
        )
        return result.matched_count == 1

    def count_pending(self) -> int:
        return self.collection.count_documents({PENDING: {"$gt": 0}})


def _with_outbox(document: dict, outbox: list[dict], events: list[dict]) -> dict:
    pending = outbox + events
    return {**document, OUTBOX: pending, PENDING: len(pending)}
