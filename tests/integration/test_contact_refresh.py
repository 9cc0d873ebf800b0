"""Contacts notification stored before it kept each registration's event, place and badge, brought
up to date by the real registration service through the real broker and store: once, with
nothing e-mailed, and nothing published when the refresh runs again."""

from pymongo import MongoClient

from registration import domain
from registration.sensitive import Sealer
from registration.store import RegistrationStore
from shared import clock
from tests.conftest import at_once, received_mail, wait_for
from tests.integration.test_event_reminders import notification
from tests.integration.test_notification_service import mail, sink
from tests.integration.test_registration_events import (
    DEFAULT_EXPO,
    attendee,
    database,
    organiser,
    registration,
    store_of,
    town_hall,
)
from tests.integration.test_registration_service import SENSITIVE_DATA_KEY

__all__ = ["database", "mail", "notification", "registration", "sink"]

# what notification's contacts lacked before it kept them
KEPT_SINCE = ("event_id", "admission", "checkin_code", "carer_name")


def mail_to(sink, address: str) -> list:
    return [message for message in received_mail(sink) if address in message["To"]]


def test_contacts_stored_by_an_earlier_version_are_refreshed_once_without_an_email(
    registration, notification, sink, store_server
):
    event_id = registration.call(
        "registration", "create_event", town_hall(status="open", capacity=1), organiser()
    )["id"]
    admitted = registration.call(
        "registration", "create", "attendee", attendee(event_id=event_id, carer_name="안보호")
    )
    waiting = registration.call("registration", "create", "attendee", attendee(event_id=event_id))
    assert (admitted["admission"], waiting["admission"]) == ("admitted", "waiting")
    ids = [admitted["id"], waiting["id"]]
    for person in (admitted, waiting):
        wait_for(lambda person=person: mail_to(sink, person["email"]), message="the confirmation")

    with MongoClient(store_server["uri"]) as client:
        registrations = client["registration"]["registrations"]
        contacts = client["notification"]["contacts"]
        notifications = client["notification"]["notifications"]
        wait_for(
            lambda: contacts.count_documents({"_id": {"$in": ids}, "event_id": event_id}) == 2,
            message="the contacts",
        )
        # as an earlier version of each service left them
        contacts.update_many({"_id": {"$in": ids}}, {"$unset": dict.fromkeys(KEPT_SINCE, "")})
        registrations.update_many(
            {"_id": {"$in": ids}}, {"$unset": {domain.CONTACT_REFRESHED: ""}, "$inc": {"_v": 1}}
        )

        def refreshed_contacts() -> dict | None:
            found = {contact["_id"]: contact for contact in contacts.find({"_id": {"$in": ids}})}
            return found if all(contact.get("event_id") == event_id for contact in found.values()) else None

        # the running service's timer refreshes them
        refreshed = wait_for(refreshed_contacts, timeout=20, message="the refreshed contacts")
        badge = registrations.find_one({"_id": admitted["id"]})["checkin_code"]
        assert {key: refreshed[admitted["id"]][key] for key in KEPT_SINCE} == {
            "event_id": event_id,
            "admission": "admitted",
            "checkin_code": badge,
            "carer_name": "안보호",
        }
        assert (refreshed[waiting["id"]]["admission"], refreshed[waiting["id"]]["checkin_code"]) == (
            "waiting",
            None,
        )
        assert all(
            contact["revision"] == 1 and contact["status"] == "active" for contact in refreshed.values()
        )
        wait_for(
            lambda: registrations.count_documents({"_id": {"$in": ids}, "outbox_pending": 0}) == 2,
            message="the refresh published",
        )
        marked = {document["_id"]: document for document in registrations.find({"_id": {"$in": ids}})}
        assert all(
            document[domain.CONTACT_REFRESHED] == domain.CONTACT_REFRESH for document in marked.values()
        )

        # nothing was e-mailed: each still has only their confirmation
        assert notifications.count_documents({"recipient_id": {"$in": ids}}) == 2
        assert [len(mail_to(sink, person["email"])) for person in (admitted, waiting)] == [1, 1]

        # run again, as another instance or a restart would: nothing is due, nothing is written
        default = domain.default_event(DEFAULT_EXPO, "박람회", "Expo", clock.now_iso())
        store = RegistrationStore(client["registration"], Sealer(SENSITIVE_DATA_KEY), default)
        assert store.refresh_contacts() == []
        # the waiting one's version moves on as the promotion timer tries for a place each second
        again = registrations.find_one({"_id": admitted["id"]})
        assert again["_v"] == marked[admitted["id"]]["_v"]
        assert registrations.count_documents({"_id": {"$in": ids}, "outbox_pending": 0}) == 2


def stored_before_the_refresh(number: int, status: str) -> dict:
    """A registration as a version before the refresh stored it: without its mark."""
    return {
        "_id": f"earlier-{number}",
        "_v": 1,
        "kind": "attendee",
        "event_id": DEFAULT_EXPO,
        "status": status,
        "revision": 2,
        "name": "김민지",
        "email": f"earlier-{number}@example.kr",
        "language": "ko",
        "created_at": "2026-03-01T00:00:00.000000Z",
        "outbox": [],
        "outbox_pending": 0,
    }


def test_instances_refreshing_at_once_refresh_each_active_registration_once(database):
    statuses = ["active"] * 300 + ["cancelled"] * 20
    database["registrations"].insert_many(
        [stored_before_the_refresh(number, status) for number, status in enumerate(statuses)]
    )

    def refresh() -> None:
        store = store_of(database)
        while store.refresh_contacts(limit=50):
            pass

    at_once(refresh)
    refreshes = {
        document["_id"]: [
            event for event in document["outbox"] if event["type"] == "registration.contact_refreshed"
        ]
        for document in database["registrations"].find()
    }
    assert [len(refreshes[f"earlier-{number}"]) for number in range(len(statuses))] == [1] * 300 + [0] * 20
    assert database["registrations"].count_documents(
        {domain.CONTACT_REFRESHED: domain.CONTACT_REFRESH}
    ) == len(statuses)
    assert store_of(database).refresh_contacts() == []
