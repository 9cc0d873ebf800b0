"""Entrypoints of the registration service: RPC for the gateway, and the outbox relay."""

import hmac
from collections import Counter
from collections.abc import Callable

from marshmallow import ValidationError
from nameko.timer import timer
from pymongo.database import Database

from registration import domain
from registration.sensitive import Sealer
from registration.store import RegistrationStore
from shared import clock, metrics
from shared.contracts.registration import KINDS, load_registration
from shared.errors import EXPECTED, Forbidden, Invalid, NotFound
from shared.mongo import Store
from shared.outbox import Outbox
from shared.rpc import rpc
from shared.settings import Settings

SERVICE = "registration"


def _store(database: Database) -> RegistrationStore:
    settings = Settings.from_env()
    default_expo = {
        "_id": settings.default_expo_id,
        "name_ko": settings.default_expo_name_ko,
        "name_en": settings.default_expo_name_en,
    }
    return RegistrationStore(database, Sealer(settings.sensitive_data_key), default_expo)


class RegistrationService(metrics.IoCountsRpc):
    name = SERVICE

    store: RegistrationStore = Store(SERVICE, _store)
    outbox = Outbox(SERVICE, ("registrations",))

    def __init__(self) -> None:
        self.settings = Settings.from_env()

    @rpc(expected_exceptions=EXPECTED)
    def create(self, kind: str, data: dict) -> dict:
        """Register; the answer carries the manage token, shown this once only."""
        _check_kind(kind)
        clean = _validated(kind, data, partial=False)
        expo_id = clean.get("expo_id") or self._default_expo()
        if not self.store.expo_exists(expo_id):
            raise Invalid("Unknown expo.", {"expo_id": [f"No expo {expo_id!r}."]})
        token = domain.new_manage_token()
        document, events = domain.register(kind, clean, expo_id, domain.hash_token(token), clock.now_iso())
        stored = self.store.add(document, events)
        self.outbox.flush("registrations", stored["_id"])
        return {**domain.owner_view(stored), "manage_token": token}

    @rpc(expected_exceptions=EXPECTED)
    def get(self, kind: str, registration_id: str, caller: dict) -> dict:
        return domain.owner_view(self._authorised(kind, registration_id, caller))

    @rpc(expected_exceptions=EXPECTED)
    def update(self, kind: str, registration_id: str, changes: dict, caller: dict) -> dict:
        clean = _validated(kind, changes, partial=True)
        return domain.owner_view(
            self._change(
                kind,
                registration_id,
                caller,
                lambda doc, now: domain.change(doc, clean, now, self.settings.profile_changes_per_hour),
            )
        )

    @rpc(expected_exceptions=EXPECTED)
    def cancel(self, kind: str, registration_id: str, caller: dict) -> dict:
        return domain.owner_view(self._change(kind, registration_id, caller, domain.cancel))

    @rpc(expected_exceptions=EXPECTED)
    def erase(self, kind: str, registration_id: str, caller: dict) -> dict:
        self._change(kind, registration_id, caller, domain.erase)
        return {"id": registration_id, "status": "erased"}

    @rpc
    def identify(self, token: str) -> dict | None:
        """Who a manage token belongs to, or None."""
        if not isinstance(token, str) or not token:
            return None
        document = self.store.find_by_token_hash(domain.hash_token(token))
        if document is None:
            return None
        return {"registration_id": document["_id"], "kind": document["kind"]}

    @rpc
    def public_profiles(self, ids: list[str]) -> dict:
        return {doc["_id"]: domain.public_profile(doc) for doc in self.store.public_profiles(ids[:500])}

    @rpc
    def stats(self) -> dict:
        registrations = {
            kind: {status: self.store.count(kind, status) for status in ("active", "cancelled", "erased")}
            for kind in KINDS
        }
        needs: Counter = Counter()
        for need in self.store.active_accessibility_needs():
            needs.update(key for key, value in need.items() if value and key != "other")
            needs["companions"] += need.get("companions", 0)
        return {
            "registrations": registrations,
            "accessibility_needs": dict(needs),
            "outbox_pending": self.outbox.pending(),
        }

    @rpc
    def health(self) -> dict:
        self.store.ping()
        return {"service": SERVICE, "status": "ok"}

    @timer(interval=1.0)
    def relay_outbox(self) -> None:
        self.outbox.sweep()

    def _change(self, kind: str, registration_id: str, caller: dict, decide: Callable) -> dict:
        """Apply ``decide(document, now)`` to a registration the caller may act on, and publish."""
        self._authorised(kind, registration_id, caller)
        now = clock.now_iso()
        stored, events = self.store.modify(registration_id, lambda document: decide(document, now))
        if events:
            self.outbox.flush("registrations", registration_id)
        return stored

    def _default_expo(self) -> str:
        return self.settings.default_expo_id

    def _authorised(self, kind: str, registration_id: str, caller: dict) -> dict:
        """The registration if ``caller`` may act on it: its own token, or an organiser."""
        _check_kind(kind)
        document = self.store.get(registration_id) if isinstance(registration_id, str) else None
        exists = document is not None and document["kind"] == kind and document["status"] != "erased"
        if caller.get("organiser"):
            if not exists:
                raise NotFound(f"No {kind} registration {registration_id}.")
            return document
        token = caller.get("token")
        if (
            exists
            and isinstance(token, str)
            and hmac.compare_digest(document.get("token_hash", ""), domain.hash_token(token))
        ):
            return document
        # the same answer whether or not the registration exists: no existence oracle
        raise Forbidden("This token does not give access to that registration.")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise NotFound(f"Unknown registration kind {kind!r}.")


def _validated(kind: str, data: object, *, partial: bool) -> dict:
    try:
        return load_registration(kind, data, partial=partial)
    except ValidationError as error:
        raise Invalid("Some fields are invalid.", error.messages) from error
