"""Group commit: single-document writes and reads by id, made by many workers at once, sent to
the store together.

Each request is a round trip to the store, and on a busy service most of its cost is the round
trip itself, not the document. Here a worker whose request finds none on its way sends it at
once; requests that arrive while one is on its way wait, and go together (one unordered bulk
write, or one ``_id: {$in: [...]}`` read) as soon as it is back. An idle service therefore pays
no delay, and a busy one sends a few round trips for many requests. Every caller still returns
only once its own request is done, with its own result or error (a duplicate key, say): nothing
is acknowledged early, and a read sees every write done before it was asked for.

Works with threads and with eventlet's green threads (which patch ``threading``).
"""

import copy
import threading
from collections.abc import Mapping
from typing import Any

from pymongo import InsertOne, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import (
    AutoReconnect,
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    WriteConcernError,
    WriteError,
)

MAX_BATCH = 200
DUPLICATE_KEY = 11000


class _Pending:
    def __init__(self, request: Any) -> None:
        self.request = request
        self.woken = threading.Event()
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None

    def finish(self, result: Any, error: BaseException | None) -> None:
        self.done, self.result, self.error = True, result, error
        self.woken.set()


class _Batched:
    """One batch on its way at a time; what arrives meanwhile goes in the next one."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self._lock = threading.Lock()
        self._waiting: list[_Pending] = []
        self._sending = False

    def _submit(self, request: Any) -> Any:
        mine = _Pending(request)
        with self._lock:
            self._waiting.append(mine)
            leading = not self._sending
            self._sending = True
        if not leading:
            # woken when a batch holding this request is back, or to send the next batch
            try:
                mine.woken.wait()
            except BaseException:  # this worker is being killed while it waits
                self._withdraw(mine)
                raise
        if not mine.done:
            self._send_next_batch()
        if mine.error is not None:
            # a failed batch gives each of its callers the same error: each raises it afresh,
            # not on top of the others' tracebacks
            raise mine.error.with_traceback(None)
        return mine.result

    def _send_next_batch(self) -> None:
        """Send the requests waiting now (the caller's own first), then hand over to the oldest
        request still waiting, if any."""
        with self._lock:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            outcomes = self._outcomes([pending.request for pending in batch])
        except BaseException as error:  # the batch as a whole failed: each request failed
            if not isinstance(error, Exception):  # this worker is being killed, not the others
                error = AutoReconnect("the request was interrupted before the store answered")
            outcomes = [(None, error)] * len(batch)
            raise
        finally:
            with self._lock:
                following = self._waiting[0] if self._waiting else None
                self._sending = following is not None
            for pending, (result, error) in zip(batch, outcomes, strict=True):
                pending.finish(result, error)
            if following is not None:
                following.woken.set()

    def _withdraw(self, mine: _Pending) -> None:
        """Take back a request not sent yet, handing its turn to send on if it was given one;
        a request already on its way is left to the worker sending it."""
        with self._lock:
            if mine not in self._waiting:
                return
            given_the_turn = mine.woken.is_set()
            self._waiting.remove(mine)
            following = self._waiting[0] if given_the_turn and self._waiting else None
            if given_the_turn and following is None:
                self._sending = False
        if following is not None:
            following.woken.set()

    def _outcomes(self, requests: list[Any]) -> list[tuple[Any, BaseException | None]]:
        try:
            return self._send(requests)
        except ConnectionFailure:
            raise  # the store is out of reach: every request failed alike
        except Exception:
            if len(requests) == 1:
                raise
            # one request the driver or the store refuses as a whole (a document too large to
            # send, say) must not fail the others: each is sent again on its own
            return [self._alone(request) for request in requests]

    def _alone(self, request: Any) -> tuple[Any, BaseException | None]:
        try:
            return self._send([request])[0]
        except Exception as error:
            return None, error

    def _send(self, requests: list[Any]) -> list[tuple[Any, BaseException | None]]:
        """The result and error of each request, in order."""
        raise NotImplementedError


class GroupedWrites(_Batched):
    """Inserts and updates of single documents in ``collection``, sent in batches.

    No write result is returned (an unordered bulk write counts matches for the whole batch, not
    per write), so only writes whose callers need none but their errors belong here."""

    def insert_one(self, document: Mapping[str, Any]) -> None:
        """Raises DuplicateKeyError as ``Collection.insert_one`` does."""
        self._submit(InsertOne(document))

    def update_one(self, query: Mapping[str, Any], update: Mapping[str, Any], upsert: bool = False) -> None:
        """Raises DuplicateKeyError when an upsert's query misses an existing ``_id``."""
        self._submit(UpdateOne(query, update, upsert=upsert))

    def _send(self, requests: list[Any]) -> list[tuple[Any, BaseException | None]]:
        errors: dict[int, BaseException] = {}
        unmet_concern: BaseException | None = None
        try:
            self.collection.bulk_write(requests, ordered=False)
        except BulkWriteError as error:
            failures = error.details.get("writeErrors", [])
            errors = {failure["index"]: _write_error(failure) for failure in failures}
            concern_failures = error.details.get("writeConcernErrors", [])
            if concern_failures:  # done, but not as durably as asked: as insert_one would say
                failure = concern_failures[0]
                unmet_concern = WriteConcernError(failure.get("errmsg", ""), failure.get("code"), failure)
        return [(None, errors.get(index, unmet_concern)) for index in range(len(requests))]


class GroupedReads(_Batched):
    """Reads of single documents by ``_id`` in ``collection``, with one projection, in batches."""

    def __init__(self, collection: Collection, projection: Mapping[str, Any] | None = None) -> None:
        super().__init__(collection)
        self.projection = projection

    def find_one(self, document_id: Any) -> dict | None:
        return self._submit(document_id)

    def _send(self, requests: list[Any]) -> list[tuple[Any, BaseException | None]]:
        found = {
            document["_id"]: document
            for document in self.collection.find({"_id": {"$in": list(set(requests))}}, self.projection)
        }
        outcomes: list[tuple[Any, BaseException | None]] = []
        handed_out: set = set()
        for document_id in requests:
            document = found.get(document_id)
            # the same document asked twice: each caller gets a copy of its own to change
            if document is not None and document_id in handed_out:
                document = copy.deepcopy(document)
            handed_out.add(document_id)
            outcomes.append((document, None))
        return outcomes


def _write_error(failure: dict) -> WriteError:
    kind = DuplicateKeyError if failure.get("code") == DUPLICATE_KEY else WriteError
    return kind(failure.get("errmsg", "write failed"), failure.get("code"), failure)
