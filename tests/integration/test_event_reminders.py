"""Events of the programme, from the real registration service to e-mail at a real SMTP server
on loopback, through the real broker and store: a confirmation names its event, when and where,
with the QR code of the check-in code and a calendar entry; everyone with a place is reminded the
day before, once, whatever the number of notification instances and restarts; a moved or
cancelled event is told to everyone registered, once per change."""

import uuid
from datetime import datetime, time, timedelta

import icalendar
import pytest
from pymongo import MongoClient

from registration import domain
from shared import badges, clock
from tests.conftest import received_mail, service_env, vouched, wait_for
from tests.integration.service_helpers import start_service
from tests.integration.test_notification_service import mail, sink
from tests.integration.test_registration_events import (
    DEFAULT_EXPO,
    attendee,
    organiser,
    registration,
    store_of,
    town_hall,
)

__all__ = ["mail", "registration", "sink"]


def notification_env(amqp_uri, store_server, mail) -> dict:
    # every hour is past the reminder hour: the events of tomorrow, Seoul time, are due at once
    return service_env(
        amqp_uri,
        store_server["uri"],
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(mail["port"]),
        SMTP_RETRY_BASE_SECONDS="0.3",
        PUBLIC_BASE_URL="http://expo.test",
        REMINDER_HOUR="0",
    )


@pytest.fixture(scope="module")
def notification(amqp_uri, store_server, mail, tmp_path_factory):
    process, client = start_service(
        "notification", notification_env(amqp_uri, store_server, mail), tmp_path_factory.mktemp("logs")
    )
    yield client
    client.close()
    process.stop()


def tomorrow_at(hour: int) -> str:
    """``hour``:00 tomorrow in Seoul, as stored."""
    tomorrow = datetime.now(clock.SEOUL).date() + timedelta(days=1)
    return clock.to_iso(datetime.combine(tomorrow, time(hour), tzinfo=clock.SEOUL))


def mail_to(sink, address: str) -> list:
    return [message for message in received_mail(sink) if address in message["To"]]


def subjects(sink, address: str) -> list[str]:
    return sorted(str(message["Subject"]) for message in mail_to(sink, address))


def calendar_event(message):
    (part,) = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    (event,) = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
    return event


def test_confirmation_reminder_and_notices_of_a_moved_and_cancelled_event(
    registration, notification, sink, amqp_uri, store_server, mail, tmp_path_factory
):
    starts = tomorrow_at(14)
    event = registration.call(
        "registration",
        "create_event",
        town_hall(
            name_en="Reminder Town Hall",
            status="open",
            starts_at=starts,
            ends_at=tomorrow_at(17),
            capacity=1,
            venue={
                **town_hall()["venue"],
                "name_en": "Seoul City Hall",
                "subway_exit_en": "City Hall, exit 5",
            },
        ),
        organiser(),
    )
    event_id = event["id"]
    admitted = registration.call(
        "registration", "create", "attendee", attendee(event_id=event_id, language="en")
    )
    waiting = registration.call(
        "registration", "create", "attendee", attendee(event_id=event_id, language="en")
    )
    leaving = registration.call(
        "registration", "create", "attendee", attendee(event_id=event_id, language="en")
    )
    assert (admitted["admission"], waiting["admission"]) == ("admitted", "waiting")

    (confirmation,) = wait_for(lambda: mail_to(sink, admitted["email"]), message="the confirmation")
    assert (
        str(confirmation["Subject"])
        == "[Tech Companion] Your registration for Reminder Town Hall is confirmed"
    )
    text = confirmation.get_body(("plain",)).get_content()
    assert (
        "Where: Seoul City Hall, 서울 중구 세종대로 110" in text
        and "When: " in text
        and "14:00–17:00" in text
    )
    with MongoClient(store_server["uri"]) as client:
        code = client["registration"]["registrations"].find_one({"_id": admitted["id"]})["checkin_code"]
    assert f"Check-in code: {badges.display(code)}" in text
    (qr,) = [part for part in confirmation.iter_attachments() if part.get_content_type() == "image/png"]
    assert qr.get_content_disposition() == "inline" and qr.get_content() == badges.qr_png(code)
    entry = calendar_event(confirmation)
    assert entry["SUMMARY"] == "Reminder Town Hall" and entry.decoded("DTSTART") == clock.parse_iso(starts)
    (waiting_mail,) = wait_for(lambda: mail_to(sink, waiting["email"]), message="the waiting e-mail")
    assert not list(waiting_mail.iter_attachments())
    registration.call(
        "registration", "cancel", "attendee", leaving["id"], vouched({"token": leaving["manage_token"]})
    )
    wait_for(lambda: len(mail_to(sink, leaving["email"])) == 2, message="the cancellation")

    # a second instance, started after the hour, plans the reminders at once, as the first does
    # within a minute; a third started later plans nothing again
    logs = tmp_path_factory.mktemp("more-logs")
    env = notification_env(amqp_uri, store_server, mail)
    second, client = start_service("notification", env, logs)
    client.close()
    reminder = "[Tech Companion] Tomorrow: Reminder Town Hall"
    wait_for(lambda: reminder in subjects(sink, admitted["email"]), message="the reminder")
    second.stop()
    third, client = start_service("notification", env, tmp_path_factory.mktemp("even-more-logs"))
    client.close()
    third.stop()
    (reminded,) = [m for m in mail_to(sink, admitted["email"]) if str(m["Subject"]) == reminder]
    text = reminded.get_body(("plain",)).get_content()
    assert "Getting there step-free:\n- Subway: City Hall, exit 5\n- Step-free entrance: yes\n" in text
    assert f"Check-in code: {badges.display(code)}" in text
    assert any(part.get_content_type() == "image/png" for part in reminded.iter_attachments())
    assert reminder not in subjects(sink, waiting["email"]) + subjects(sink, leaving["email"])

    # moved by a week: everyone registered is told, once each, with the calendar entry updated
    later = clock.to_iso(clock.parse_iso(starts) + timedelta(days=7))
    registration.call(
        "registration", "update_event", event_id, {"starts_at": later, "ends_at": None}, organiser()
    )
    moved = "[Tech Companion] The time of Reminder Town Hall has changed"
    for person in (admitted, waiting):
        wait_for(
            lambda person=person: moved in subjects(sink, person["email"]), message="the notice of the move"
        )
    (notice,) = [m for m in mail_to(sink, admitted["email"]) if str(m["Subject"]) == moved]
    assert calendar_event(notice).decoded("DTSTART") == clock.parse_iso(later)
    assert (
        calendar_event(notice)["UID"] == entry["UID"]
        and calendar_event(notice)["SEQUENCE"] > entry["SEQUENCE"]
    )

    registration.call("registration", "update_event", event_id, {"status": "cancelled"}, organiser())
    cancelled = "[Tech Companion] Reminder Town Hall is cancelled"
    for person in (admitted, waiting):
        wait_for(
            lambda person=person: cancelled in subjects(sink, person["email"]), message="the cancellation"
        )
    (notice,) = [m for m in mail_to(sink, admitted["email"]) if str(m["Subject"]) == cancelled]
    assert calendar_event(notice)["STATUS"] == "CANCELLED"
    # the one who cancelled heard of neither (their confirmation and cancellation only), and
    # nobody got anything twice
    assert len(mail_to(sink, leaving["email"])) == 2
    for person in (admitted, waiting):
        assert len(subjects(sink, person["email"])) == len(set(subjects(sink, person["email"])))
    assert subjects(sink, admitted["email"]).count(reminder) == 1


def test_events_stored_before_they_were_announced_are_announced_once_as_the_service_starts(mongo):
    database = mongo[f"announce_{uuid.uuid4().hex[:8]}"]
    try:
        earlier = {**domain.new_programme_event(town_hall(status="open"), clock.now_iso()), "_v": 1}
        database["events"].insert_one(earlier)  # as a version that announced nothing stored it
        store_of(database).prepare()
        pending = {document["_id"]: document["outbox"] for document in database["events"].find()}
        assert {event["type"] for outbox in pending.values() for event in outbox} == {
            "registration.programme_event_changed"
        }
        assert [event["payload"]["programme_event_id"] for event in pending[earlier["_id"]]] == [
            earlier["_id"]
        ]
        assert len(pending[DEFAULT_EXPO]) == 1
        store_of(database).prepare()  # another instance, or a restart
        assert [len(document["outbox"]) for document in database["events"].find()] == [1, 1]
    finally:
        mongo.drop_database(database.name)
