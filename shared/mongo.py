"""MongoDB access: one client per process, made after start-up and closed at stop.

pymongo is not fork-safe and starts background threads, so the client is made when the first
dependency provider of a running service sets up, never at import time, and shared by every
provider of that process.
"""

import threading
from collections.abc import Callable, Mapping
from typing import Any

from nameko.extensions import DependencyProvider
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from shared import metrics
from shared.batching import DUPLICATE_KEY
from shared.settings import Settings

# The batch size of a read whose result grows with the counterparts or recipients of one event,
# so that it takes one round trip. A server's first batch holds 101 documents unless asked for
# more; MongoDB's later batches hold up to 16 MiB, but the embedded store's hold 101 documents
# each, so a read of 300 counterparts took three round trips there.
WHOLE_RESULT_BATCH = 100_000


def connect(uri: str) -> MongoClient:
    return MongoClient(
        uri,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=3000,
        socketTimeoutMS=15000,
        appname="tech-companion-expo",
        event_listeners=[metrics.StoreCommandCounter()],
    )


class _ProcessClient:
    """The process's MongoClient, counted so the last user closes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: MongoClient | None = None
        self._users = 0

    def acquire(self) -> MongoClient:
        with self._lock:
            if self._client is None:
                self._client = connect(Settings.from_env().mongo_uri)
            self._users += 1
            return self._client

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._client is not None:
                self._client.close()
                self._client = None


_process_client = _ProcessClient()


class MongoDependency(DependencyProvider):
    """Base for providers that work on the service's own database."""

    def __init__(self, database: str) -> None:
        self.database_name = database
        self._acquired = False

    def setup(self) -> None:
        self.database: Database = _process_client.acquire()[self.database_name]
        self._acquired = True

    def stop(self) -> None:
        if self._acquired:
            self._acquired = False
            _process_client.release()

    def kill(self) -> None:
        self.stop()


class Store(MongoDependency):
    """Gives workers an adapter built over the service's own database.

    ``adapter`` is called once with the database; its ``prepare()`` (indexes, reference data)
    runs in ``setup``: nameko starts a service's extensions all at once, entrypoints included, but
    only once every extension is set up, so a service never serves before its unique indexes and
    reference data exist.
    """

    def __init__(self, database: str, adapter: Callable[[Database], Any]) -> None:
        super().__init__(database)
        self.adapter = adapter

    def setup(self) -> None:
        super().setup()
        self.store = self.adapter(self.database)
        self.store.prepare()

    def get_dependency(self, worker_ctx: object) -> Any:
        return self.store


def write_unordered(collection: Collection, writes: list) -> tuple[dict, set[int]]:
    """Run ``writes`` as one unordered bulk write, in which a write refused for a duplicate key
    (a record another worker, or an earlier attempt, made first) is no error. Returns the bulk
    write's result document and the positions of the writes refused so."""
    try:
        return collection.bulk_write(writes, ordered=False).bulk_api_result, set()
    except BulkWriteError as error:
        failures = error.details["writeErrors"]
        if any(failure["code"] != DUPLICATE_KEY for failure in failures):
            raise
        return error.details, {failure["index"] for failure in failures}


def delete_by_index(collection: Collection, query: Mapping[str, Any]) -> None:
    """Delete the documents ``query`` finds, where ``query`` is an equality on an indexed field.

    The documents are found first and then deleted by ``_id``: the embedded store answers such
    a find from the index but reads every document of the collection for the same delete.
    """
    ids = [document["_id"] for document in collection.find(query, {"_id": 1})]
    if ids:
        collection.delete_many({"_id": {"$in": ids}})
