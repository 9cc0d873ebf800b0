"""Group commit (shared.batching) against the real store, with real threads asking at once."""

import subprocess
import sys
import threading
import time
import uuid

import pytest
from bson.errors import InvalidDocument
from pymongo.errors import AutoReconnect, DuplicateKeyError

from shared.batching import GroupedReads, GroupedWrites
from tests.conftest import ROOT


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
        self.finds: list[int] = []

    def bulk_write(self, operations, ordered):
        self.batches.append(len(operations))
        self._hold(first=len(self.batches) == 1)
        return self.collection.bulk_write(operations, ordered=ordered)

    def find(self, query, projection):
        self.finds.append(len(query["_id"]["$in"]))
        self._hold(first=len(self.finds) == 1)
        return self.collection.find(query, projection)

    def _hold(self, first: bool) -> None:
        if first:
            time.sleep(0.3)
            if self.fail_first:
                raise AutoReconnect("store went away")


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


def test_reads_made_while_one_is_on_its_way_go_together_and_each_gets_its_own_document(collection):
    collection.insert_many([{"_id": f"d{n}", "n": n, "tags": ["a"]} for n in range(10)])
    store = SlowFirstBatch(collection)
    grouped = GroupedReads(store, {"n": 1, "tags": 1})
    asked = ["d0", "d1", "missing", "d2", "d2", "d9"]
    results: list = [None] * len(asked)

    def read(index):
        results[index] = grouped.find_one(asked[index])
        return results[index]

    assert write_at_once([lambda index=index: read(index) for index in range(len(asked))]) == ["ok"] * 6
    assert store.finds == [1, 4]  # d2 asked for once
    assert [result and result["n"] for result in results] == [0, 1, None, 2, 2, 9]
    assert results[3] is not results[4]  # asked twice: two copies
    assert results[0] == {"_id": "d0", "n": 0, "tags": ["a"]}


KILLED_WHILE_WAITING = """
import sys, time, eventlet
eventlet.monkey_patch()
from pymongo import MongoClient
from shared.batching import GroupedWrites

collection = MongoClient(sys.argv[1])[sys.argv[2]]["things"]
original = collection.bulk_write
calls = []

def slow_first(operations, ordered):
    calls.append(len(operations))
    if len(calls) == 1:
        eventlet.sleep(0.3)
    return original(operations, ordered=ordered)

collection.bulk_write = slow_first
grouped = GroupedWrites(collection)
first = eventlet.spawn(grouped.insert_one, {"_id": 0})
eventlet.sleep(0.05)
doomed = eventlet.spawn(grouped.insert_one, {"_id": 1})  # next in line to send
rest = [eventlet.spawn(grouped.insert_one, {"_id": n}) for n in range(2, 6)]
eventlet.sleep(0.05)
doomed.kill()
first.wait()
with eventlet.Timeout(5):
    [thread.wait() for thread in rest]
print(sorted(doc["_id"] for doc in collection.find()), calls)
"""


def test_a_worker_killed_while_waiting_does_not_hold_up_the_others(store_server, collection):
    """With eventlet's green threads, as the services run: a worker killed while waiting to
    send (the next in line) neither sends its write nor stalls those behind it."""
    result = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_WAITING, store_server["uri"], collection.database.name],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "[0, 2, 3, 4, 5] [1, 4]"


def test_a_write_the_driver_refuses_fails_alone(collection):
    """A document that cannot be encoded makes the driver refuse the whole bulk write; the
    others in its batch are sent again on their own and land."""
    grouped = GroupedWrites(SlowFirstBatch(collection))
    outcomes = write_at_once(
        [
            lambda: grouped.insert_one({"_id": "first"}),
            lambda: grouped.insert_one({"_id": "good"}),
            lambda: grouped.insert_one({"_id": "bad", "value": object()}),
            lambda: grouped.insert_one({"_id": "also good"}),
        ]
    )
    assert outcomes[:2] == ["ok", "ok"] and outcomes[3] == "ok"
    assert isinstance(outcomes[2], InvalidDocument)
    assert {doc["_id"] for doc in collection.find()} == {"first", "good", "also good"}
