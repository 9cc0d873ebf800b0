"""What outlives its retention is found in the real store: notifications finished long ago,
registrations cancelled long ago (the services' hourly sweeps delete or erase them), and the
registrations of an event whose retention ended (erased a batch a minute)."""

import uuid

import pytest
from cryptography.fernet import Fernet

from notification.store import NotificationStore
from registration import domain
from registration.retention import EventRetention
from registration.sensitive import Sealer
from registration.store import RegistrationStore
from shared.messaging import EventPublisher
from shared.outbox import OutboxRelay
from tests.integration.test_outbox_and_inbox import drain

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


def test_an_events_registrations_are_erased_in_batches_once_its_retention_ends_leaving_counts(
    database, amqp_uri
):
    """RETENTION_DAYS_AFTER_EXPO after an event ended, each of its registrations is erased as any
    erasure is (every service hears of it), a batch per sweep; the event keeps its counts.
    Another event's registrations stay."""
    store = RegistrationStore(database, Sealer(Fernet.generate_key().decode()), default_event={})
    ended = store.add_event(
        domain.new_programme_event(
            {
                "kind": "town_hall",
                "name_ko": "지난 타운홀",
                "name_en": "Past town hall",
                "starts_at": LONG_AGO,
                "status": "open",
            },
            LONG_AGO,
        )
    )
    to_come = store.add_event(
        domain.new_programme_event(
            {
                "kind": "expo",
                "name_ko": "박람회",
                "name_en": "Expo",
                "starts_at": "2099-09-01T01:00:00.000000Z",
                "status": "open",
            },
            RECENTLY,
        )
    )

    def register(event: dict, companions: int = 0) -> str:
        data = {
            "name": "김민지",
            "email": f"{uuid.uuid4().hex[:8]}@example.kr",
            "attendee_type": "citizen",
            "companions": companions,
            "language": "ko",
            "consents": {"privacy": True},
        }
        document, _ = domain.register("attendee", data, event["_id"], uuid.uuid4().hex, LONG_AGO)
        return store.add(document, [])["_id"]

    past = [register(ended, companions=1) for _ in range(3)]
    store.modify(past[0], lambda document: domain.cancel(document, LONG_AGO))
    kept = register(to_come)
    relay = OutboxRelay(EventPublisher(amqp_uri), {"registrations": store.registrations})
    drain(amqp_uri, "matching")
    retention = EventRetention(store, relay.flush, retention_days=90, batch=2)

    assert retention.sweep(RECENTLY) == 2
    event = store.event(ended["_id"])
    assert event["counts_at_purge"]["attendee"] == {"active": 2, "cancelled": 1}
    assert event["counts_at_purge"]["companions"] == 2 and "purged_at" not in event
    assert retention.sweep(RECENTLY) == 1
    assert store.event(ended["_id"])["purged_at"] == RECENTLY
    assert retention.sweep(RECENTLY) == 0
    erased = [body for body in drain(amqp_uri, "matching") if body["type"] == "registration.erased"]
    assert sorted(body["payload"]["registration_id"] for body in erased) == sorted(past)
    for registration_id in past:
        tombstone = store.registrations.collection.find_one({"_id": registration_id})
        assert tombstone["status"] == "erased" and "name" not in tombstone and "email" not in tombstone
    assert store.get(kept)["name"] == "김민지"
    assert "counts_at_purge" not in store.event(to_come["_id"])
