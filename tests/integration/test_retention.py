"""What outlives its retention is found in the real store: notifications finished long ago, and
registrations cancelled long ago (the services' hourly sweeps delete or erase them)."""

import uuid

import pytest
from cryptography.fernet import Fernet

from notification.store import NotificationStore
from registration import domain
from registration.sensitive import Sealer
from registration.store import RegistrationStore

LONG_AGO, RECENTLY, CUT_OFF = (
    "2026-01-01T00:00:00.000000Z",
    "2026-11-30T00:00:00.000000Z",
    "2026-06-01T00:00:00.000000Z",
)


@pytest.fixture
def database(mongo):
    name = f"retention_{uuid.uuid4().hex[:8]}"
    yield mongo[name]
    mongo.drop_database(name)


def notification(status: str, updated_at: str) -> dict:
    return {
        "_id": str(uuid.uuid4()),
        "recipient_id": "r-1",
        "kind": "registration_confirmed",
        "status": status,
        "created_at": LONG_AGO,
        "updated_at": updated_at,
        "subject": "등록 확인: 김민지",
        "body": "김민지 님, 등록되었습니다.",
    }


def test_notifications_finished_before_the_cut_off_are_deleted_and_no_others(database):
    store = NotificationStore(database)
    old = [notification(status, LONG_AGO) for status in ("sent", "failed", "skipped", "in_app")]
    kept = [
        notification("sent", RECENTLY),
        notification("queued", LONG_AGO),
        notification("sending", LONG_AGO),
    ]
    store.notifications.insert_many(old + kept)
    assert store.remove_finished_before(CUT_OFF) == len(old)
    assert {document["_id"] for document in store.notifications.find()} == {
        document["_id"] for document in kept
    }


def test_registrations_cancelled_before_the_cut_off_are_found_and_no_others(database):
    store = RegistrationStore(database, Sealer(Fernet.generate_key().decode()), default_event={})
    made = {}
    for name, cancelled_at in (("long ago", LONG_AGO), ("recently", RECENTLY), ("active", None)):
        data = {
            "name": name,
            "email": f"{uuid.uuid4().hex[:8]}@example.kr",
            "attendee_type": "citizen",
            "language": "ko",
            "consents": {"privacy": True},
        }
        document, _ = domain.register("attendee", data, "expo-2026", uuid.uuid4().hex, LONG_AGO)
        if cancelled_at:
            document, _ = domain.cancel(document, cancelled_at)
        made[name] = store.add(document, [])["_id"]
    assert store.cancelled_before(CUT_OFF, limit=10) == [made["long ago"]]
