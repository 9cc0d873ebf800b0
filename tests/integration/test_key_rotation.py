"""Rotating the key of the sensitive data while registrations go on: every registration is
resealed with the new key, none is lost, and none is left that only the old key opens.

The module has a store of its own: its registrations end up sealed with a key that the other
modules' registration services do not hold."""

import threading
import uuid

import pytest
from cryptography.fernet import Fernet
from pymongo import MongoClient

from registration.sensitive import Sealer
from registration.store import SEALED, TYPE_SEALED, RegistrationStore
from tests.conftest import embedded_store, service_env, vouched
from tests.integration.service_helpers import start_service

OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def store_uri(tmp_path_factory):
    with embedded_store(tmp_path_factory.mktemp("rotation-store")) as (uri, _, _):
        yield uri


def registration_service(amqp_uri: str, store_uri: str, keys: str, logs):
    return start_service("registration", service_env(amqp_uri, store_uri, SENSITIVE_DATA_KEY=keys), logs)


def attendee(number: int) -> dict:
    return {
        "name": f"Rotation {number}",
        "email": f"rotation-{uuid.uuid4().hex[:8]}@example.kr",
        "attendee_type": "person_with_disability" if number % 2 else "citizen",
        "consents": {"privacy": True, "sensitive": True},
        "accessibility_needs": {"wheelchair_access": True, "other": f"need {number}"},
    }


def test_the_key_rotates_under_load_without_losing_a_record(amqp_uri, store_uri, tmp_path):
    process, client = registration_service(amqp_uri, store_uri, OLD_KEY, tmp_path)
    try:
        before = [client.call("registration", "create", "attendee", attendee(number)) for number in range(40)]
    finally:
        client.close()
        process.stop()

    # the new key in front; registrations and changes go on while the stored ones are resealed
    process, client = registration_service(amqp_uri, store_uri, f"{NEW_KEY},{OLD_KEY}", tmp_path)
    made_meanwhile: list[dict] = []
    stop = threading.Event()

    def load() -> None:
        number = 1000
        while not stop.is_set():
            made_meanwhile.append(client.call("registration", "create", "attendee", attendee(number)))
            changed = before[number % len(before)]
            client.call(
                "registration",
                "update",
                "attendee",
                changed["id"],
                {"accessibility_needs": {"live_captioning": True}},
                vouched({"organiser": True}),
            )
            number += 1

    loader = threading.Thread(target=load)
    loader.start()
    mongo = MongoClient(store_uri)
    try:
        store = RegistrationStore(mongo["registration"], Sealer(f"{NEW_KEY},{OLD_KEY}"), default_event={})
        during = store.reseal_with_newest_key()
        stop.set()
        loader.join(30)
        after = store.reseal_with_newest_key()
        assert during["resealed"] >= 1 and after["left"] == 0

        # only the new key is needed now: every registration opens with it alone, as it was
        new_only = RegistrationStore(mongo["registration"], Sealer(NEW_KEY), default_event={})
        stored = {document["_id"]: document for document in mongo["registration"]["registrations"].find()}
        assert len(stored) == len(before) + len(made_meanwhile)
        for made in before + made_meanwhile:
            opened = new_only.get(made["id"])
            assert opened["accessibility_needs"]["wheelchair_access"] is True
            assert opened["accessibility_needs"]["other"] == made["accessibility_needs"]["other"]
            assert opened["attendee_type"] == made["attendee_type"]
        sealed_types = [document for document in stored.values() if TYPE_SEALED in document]
        assert sealed_types and all(SEALED in document for document in stored.values())
        assert len(made_meanwhile) >= 1, "registrations went on during the rotation"
    finally:
        stop.set()
        mongo.close()
        client.close()
        process.stop()
