"""What this project relies on from MongoDB, checked against the store the tests run on.

The embedded store (nx-27017) differs from MongoDB in places; the code avoids those places
(noted in comments) and this suite pins down the behaviour it does use. Run it against a real
MongoDB with TEST_MONGO_URI=mongodb://... to check both agree.
"""

import uuid

import pytest
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared import clock
from shared.aggregates import AggregateCollection, ConcurrentUpdate


@pytest.fixture
def db(mongo):
    name = f"conformance_{uuid.uuid4().hex[:8]}"
    yield mongo[name]
    mongo.drop_database(name)


def test_whole_document_save_with_optimistic_concurrency_keeps_types(db):
    aggregates = AggregateCollection(db["things"])
    aggregates.ensure_indexes()
    stored = aggregates.insert(
        {"_id": "a", "flag": True, "nested": {"list": [{"x": 1}]}},
        [{"event_id": "e1", "type": "t", "occurred_at": clock.now_iso()}],
    )
    read = aggregates.get("a")
    assert read["flag"] is True and read["nested"] == {"list": [{"x": 1}]}
    saved = aggregates.save({**read, "flag": False}, [{"event_id": "e2", "type": "t", "occurred_at": "x"}])
    assert saved["_v"] == 2
    with pytest.raises(ConcurrentUpdate):
        aggregates.save(stored)  # stale: read at version 1
    assert [event["event_id"] for event in aggregates.outbox_of("a")] == ["e1", "e2"]
    assert aggregates.get("a")["flag"] is False


def test_outbox_events_are_found_pending_and_pulled_one_by_one(db):
    aggregates = AggregateCollection(db["things"])
    aggregates.insert({"_id": "a"}, [{"event_id": "e1"}, {"event_id": "e2"}])
    aggregates.insert({"_id": "b"})
    assert sorted(event["event_id"] for _, event in aggregates.pending_events()) == ["e1", "e2"]
    aggregates.mark_published("a", "e1")
    aggregates.mark_published("a", "e1")  # twice is harmless
    assert [event["event_id"] for _, event in aggregates.pending_events()] == ["e2"]
    aggregates.mark_published("a", "e2")
    assert list(aggregates.pending_events()) == [] and aggregates.count_pending() == 0
    # a save after the relay pulled an event must not bring it back
    assert aggregates.get("a")["outbox"] == []


def test_sparse_unique_index_allows_many_documents_without_the_key(db):
    things = db["things"]
    things.create_index([("key", ASCENDING)], unique=True, sparse=True)
    things.insert_one({"_id": 1, "key": "k"})
    things.insert_one({"_id": 2})
    things.insert_one({"_id": 3})
    with pytest.raises(DuplicateKeyError):
        things.insert_one({"_id": 4, "key": "k"})
    things.update_one({"_id": 1}, {"$unset": {"key": ""}})
    things.insert_one({"_id": 4, "key": "k"})


def test_revision_guarded_upsert_refuses_older_revisions(db):
    things = db["things"]
    things.update_one(
        {"_id": "x", "revision": {"$lt": 2}}, {"$set": {"revision": 2, "v": "two"}}, upsert=True
    )
    with pytest.raises(DuplicateKeyError):
        things.update_one(
            {"_id": "x", "revision": {"$lt": 1}}, {"$set": {"revision": 1, "v": "one"}}, upsert=True
        )
    assert things.find_one({"_id": "x"})["v"] == "two"


def test_counting_upsert_with_status_filter(db):
    records = db["records"]
    first = records.find_one_and_update(
        {"_id": "e", "status": "pending"},
        {"$inc": {"attempts": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    again = records.find_one_and_update(
        {"_id": "e", "status": "pending"},
        {"$inc": {"attempts": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert (first["attempts"], again["attempts"], again["status"]) == (1, 2, "pending")
    records.update_one({"_id": "e"}, {"$set": {"status": "done"}})
    # MongoDB raises DuplicateKeyError here; nx-27017 returns None. Either means "not pending".
    try:
        refused = records.find_one_and_update(
            {"_id": "e", "status": "pending"}, {"$inc": {"attempts": 1}}, upsert=True
        )
    except DuplicateKeyError:
        refused = None
    assert refused is None
    assert records.find_one({"_id": "e"}) == {"_id": "e", "status": "done", "attempts": 2}


def test_iso_time_strings_compare_in_time_order_and_leases_are_claimed_once(db):
    jobs = db["jobs"]
    jobs.insert_many([{"_id": n, "status": "queued", "due_at": clock.iso_after(n - 5)} for n in range(10)])
    due = jobs.count_documents(
        {"status": {"$in": ["queued", "sending"]}, "due_at": {"$lte": clock.now_iso()}}
    )
    assert due == 6
    claimed = jobs.find_one_and_update(
        {"status": "queued", "due_at": {"$lte": clock.now_iso()}},
        {"$set": {"status": "sending"}},
        sort=[("due_at", ASCENDING)],
        return_document=ReturnDocument.AFTER,
    )
    assert claimed["_id"] == 0 and claimed["status"] == "sending"


def test_queries_and_aggregations_used(db):
    things = db["things"]
    things.insert_many(
        [{"_id": n, "kind": "a" if n % 2 else "b", "tags": ["x", str(n)], "score": n} for n in range(6)]
    )
    assert things.count_documents({"tags": {"$in": ["3", "zzz"]}}) == 1
    assert [d["_id"] for d in things.find({"kind": "a"}).sort([("score", -1)]).limit(2)] == [5, 3]
    grouped = {
        row["_id"]: row["count"]
        for row in things.aggregate([{"$group": {"_id": "$kind", "count": {"$sum": 1}}}])
    }
    assert grouped == {"a": 3, "b": 3}
    assert things.delete_many({"_id": {"$in": [0, 1]}}).deleted_count == 2
    things.update_one({"_id": 2}, {"$set": {"reasons": [{"text": {"ko": "가", "en": "a"}, "w": 1.5}]}})
    assert things.find_one({"_id": 2})["reasons"] == [{"text": {"ko": "가", "en": "a"}, "w": 1.5}]
