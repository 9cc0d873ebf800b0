"""Group commit (shared.batching) against the real store, with real threads writing at once."""

import threading
import time
import uuid

import pytest
from pymongo.errors import AutoReconnect, DuplicateKeyError

from shared.batching import GroupedWrites


@pytest.fixture
def collection(mongo):
    name = f"batching_{uuid.uuid4().hex[:8]}"
    yield mongo[name]["things"]
    mongo.drop_database(name)


class SlowFirstBatch:
    """The collection, except that the first batch takes long enough for every other writer to
    queue behind it (or fails, when told to)."""

    def __init__(self, collection, fail_first: bool = False) -> None:
        self.collection = collection
        self.fail_first = fail_first
        self.batches: list[int] = []

    def bulk_write(self, operations, ordered):
        first = not self.batches
        self.batches.append(len(operations))
        if first:
            time.sleep(0.3)
            if self.fail_first:
                raise AutoReconnect("store went away")
        return self.collection.bulk_write(operations, ordered=ordered)


def write_at_once(writes) -> list:
    """Run each write in its own thread, the first one alone before the rest; the outcome of each."""
    outcomes: list = [None] * len(writes)

    def run(index):
        try:
            writes[index]()
            outcomes[index] = "ok"
        except Exception as error:
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(writes))]
    threads[0].start()
    time.sleep(0.05)  # the first write is on its way; the rest arrive while it is
    for thread in threads[1:]:
        thread.start()
    for thread in threads:
        thread.join(10)
    return outcomes


def test_writes_made_while_a_batch_is_on_its_way_go_together_and_each_lands(collection):
    store = SlowFirstBatch(collection)
    grouped = GroupedWrites(store)
    outcomes = write_at_once([lambda n=n: grouped.insert_one({"_id": n, "n": n}) for n in range(30)])
    assert outcomes == ["ok"] * 30
    assert store.batches == [1, 29]
    assert sorted(doc["_id"] for doc in collection.find()) == list(range(30))


def test_each_writer_gets_its_own_error_and_the_others_land(collection):
    collection.insert_one({"_id": "taken"})
    collection.insert_one({"_id": "newer", "revision": 5})
    grouped = GroupedWrites(SlowFirstBatch(collection))
    outcomes = write_at_once(
        [
            lambda: grouped.insert_one({"_id": "first"}),
            lambda: grouped.insert_one({"_id": "taken"}),
            # a guarded upsert whose guard misses an existing document
            lambda: grouped.update_one(
                {"_id": "newer", "revision": {"$lt": 3}}, {"$set": {"revision": 3}}, upsert=True
            ),
            lambda: grouped.update_one({"_id": "fresh"}, {"$set": {"x": 1}}, upsert=True),
            lambda: grouped.insert_one({"_id": "second"}),
        ]
    )
    assert outcomes[0] == "ok" and outcomes[3] == "ok" and outcomes[4] == "ok"
    assert isinstance(outcomes[1], DuplicateKeyError)
    assert isinstance(outcomes[2], DuplicateKeyError)
    assert collection.find_one({"_id": "newer"})["revision"] == 5
    assert {doc["_id"] for doc in collection.find()} == {"taken", "newer", "first", "fresh", "second"}


def test_a_failed_batch_fails_each_of_its_writers_and_the_next_batch_still_goes(collection):
    store = SlowFirstBatch(collection, fail_first=True)
    grouped = GroupedWrites(store)
    outcomes = write_at_once([lambda n=n: grouped.insert_one({"_id": n}) for n in range(5)])
    assert isinstance(outcomes[0], AutoReconnect)
    assert outcomes[1:] == ["ok"] * 4
    assert store.batches == [1, 4]
    assert sorted(doc["_id"] for doc in collection.find()) == [1, 2, 3, 4]
    grouped.insert_one({"_id": 0})  # nothing is left waiting or stuck
    assert collection.count_documents({}) == 5
