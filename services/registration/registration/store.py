"""The registration service's own database: registrations (with their outbox) and expos."""

from collections.abc import Callable
from typing import Any

from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from registration.sensitive import Sealer
from shared.aggregates import AggregateCollection, ConcurrentUpdate
from shared.errors import Conflict

SEALED = "accessibility_needs_sealed"
SAVE_ATTEMPTS = 5


class RegistrationStore:
    def __init__(self, database: Database, sealer: Sealer, default_expo: dict) -> None:
        self.registrations = AggregateCollection(database["registrations"])
        self.expos = database["expos"]
        self.sealer = sealer
        self.default_expo = default_expo
        self._known_expos: set[str] = set()

    def prepare(self) -> None:
        collection = self.registrations.collection
        self.registrations.ensure_indexes()
        collection.create_index([("active_key", ASCENDING)], unique=True, sparse=True)
        collection.create_index([("token_hash", ASCENDING)], unique=True, sparse=True)
        collection.create_index([("kind", ASCENDING), ("status", ASCENDING)])
        expo = self.default_expo
        self.expos.update_one(
            {"_id": expo["_id"]}, {"$setOnInsert": {k: v for k, v in expo.items() if k != "_id"}}, upsert=True
        )

    def ping(self) -> None:
        self.expos.database.command("ping")

    def expo_exists(self, expo_id: str) -> bool:
        # expos are never removed, so one found is remembered: no read per registration
        if expo_id not in self._known_expos:
            if self.expos.find_one({"_id": expo_id}, {"_id": 1}) is None:
                return False
            self._known_expos.add(expo_id)
        return True

    def get(self, registration_id: str) -> dict | None:
        return self._open(self.registrations.get(registration_id))

    def find_by_token_hash(self, token_hash: str) -> dict | None:
        return self._open(self.registrations.collection.find_one({"token_hash": token_hash}))

    def add(self, document: dict, events: list[dict]) -> dict:
        try:
            return self._open(self.registrations.insert(self._seal(document), events))
        except DuplicateKeyError as error:
            raise _conflict(document) from error

    def modify(
        self, registration_id: str, decide: Callable[[dict], tuple[dict, list[dict]]]
    ) -> tuple[dict, list[dict]]:
        """Read, decide the change, save; read again and decide again if someone else won."""
        for _ in range(SAVE_ATTEMPTS):
            current = self.get(registration_id)
            changed, events = decide(current)
            if not events:
                return changed, events
            try:
                return self._open(self.registrations.save(self._seal(changed), events)), events
            except ConcurrentUpdate:
                continue
            except DuplicateKeyError as error:
                raise _conflict(changed) from error
        raise Conflict("The registration is being changed by another request; try again.")

    def public_profiles(self, ids: list[str]) -> list[dict]:
        return list(self.registrations.collection.find({"_id": {"$in": ids}, "status": "active"}))

    def count(self, kind: str, status: str) -> int:
        return self.registrations.collection.count_documents({"kind": kind, "status": status})

    def active_accessibility_needs(self) -> list[dict]:
        cursor = self.registrations.collection.find(
            {"status": "active", SEALED: {"$exists": True}}, {SEALED: 1}
        )
        return [self.sealer.open(document[SEALED]) for document in cursor]

    def _seal(self, document: dict) -> dict:
        sealed = {key: value for key, value in document.items() if key != "accessibility_needs"}
        if document.get("accessibility_needs"):
            sealed[SEALED] = self.sealer.seal(document["accessibility_needs"])
        return sealed

    def _open(self, document: Any) -> dict | None:
        if document is None:
            return None
        opened = {key: value for key, value in document.items() if key != SEALED}
        if SEALED in document:
            opened["accessibility_needs"] = self.sealer.open(document[SEALED])
        return opened


def _conflict(document: dict) -> Conflict:
    return Conflict(f"A {document['kind']} registration with this e-mail already exists for this expo.")
