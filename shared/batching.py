"""Group commit: single-document writes to one collection, made by many workers at once, sent
to the store together.

Each write is a round trip to the store, and on a busy service most of its cost is the round
trip itself, not the document. Here a worker that writes while no batch is on its way sends its
own write at once; writes that arrive while a batch is on its way wait, and go together as one
unordered bulk write as soon as it is back. An idle service therefore pays no delay, and a busy
one sends a few round trips for many writes. Every caller still returns only once its own write
is done, and gets its own error (a duplicate key, say): nothing is acknowledged early.

Works with threads and with eventlet's green threads (which patch ``threading``).
"""

import threading
from collections.abc import Mapping
from typing import Any

from pymongo import InsertOne, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import AutoReconnect, BulkWriteError, DuplicateKeyError, WriteError

MAX_BATCH = 200
DUPLICATE_KEY = 11000


class _Pending:
    def __init__(self, operation: InsertOne | UpdateOne) -> None:
        self.operation = operation
        self.woken = threading.Event()
        self.done = False
        self.error: BaseException | None = None

    def finish(self, error: BaseException | None) -> None:
        self.done, self.error = True, error
        self.woken.set()


class GroupedWrites:
    """Inserts and updates of single documents in ``collection``, sent in batches.

    No write result is returned (an unordered bulk write counts matches for the whole batch, not
    per write), so only writes whose callers need none but their errors belong here."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._sending = False

    def insert_one(self, document: Mapping[str, Any]) -> None:
        """Raises DuplicateKeyError as ``Collection.insert_one`` does."""
        self._write(InsertOne(document))

    def update_one(self, query: Mapping[str, Any], update: Mapping[str, Any], upsert: bool = False) -> None:
        """Raises DuplicateKeyError when an upsert's query misses an existing ``_id``."""
        self._write(UpdateOne(query, update, upsert=upsert))

    def _write(self, operation: InsertOne | UpdateOne) -> None:
        mine = _Pending(operation)
        with self._lock:
            self._waiting.append(mine)
            leading = not self._sending
            self._sending = True
        if not leading:
            # woken when a batch holding this write is back, or to send the next batch
            mine.woken.wait()
        if not mine.done:
            self._send_next_batch()
        if mine.error is not None:
            raise mine.error

    def _send_next_batch(self) -> None:
        """Send the writes waiting now (the caller's own first), then hand over to the oldest
        write still waiting, if any."""
        with self._lock:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        errors: dict[int, BaseException] = {}
        try:
            errors = self._bulk_write(batch)
        except BaseException as error:  # the batch as a whole failed: each write failed
            if not isinstance(error, Exception):  # this worker is being killed, not the others
                error = AutoReconnect("the write was interrupted before the store answered")
            errors = dict.fromkeys(range(len(batch)), error)
            raise
        finally:
            with self._lock:
                following = self._waiting[0] if self._waiting else None
                self._sending = following is not None
            for index, pending in enumerate(batch):
                pending.finish(errors.get(index))
            if following is not None:
                following.woken.set()

    def _bulk_write(self, batch: list[_Pending]) -> dict[int, BaseException]:
        try:
            self.collection.bulk_write([pending.operation for pending in batch], ordered=False)
        except BulkWriteError as error:
            return {
                failure["index"]: _write_error(failure) for failure in error.details.get("writeErrors", [])
            }
        return {}


def _write_error(failure: dict) -> WriteError:
    kind = DuplicateKeyError if failure.get("code") == DUPLICATE_KEY else WriteError
    return kind(failure.get("errmsg", "write failed"), failure.get("code"), failure)
