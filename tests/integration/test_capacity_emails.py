"""The notification service as a real process tells a waiting registrant their number in line,
and a promoted one that they have a place, by e-mail at a real SMTP server."""

import uuid

from shared.contracts.events import new_event
from tests.conftest import wait_for
from tests.integration.test_notification_service import mail, mail_to, notification, sink

__all__ = ["mail", "notification", "sink"]


def registration_event(registration_id: str, event_type: str, **payload) -> dict:
    return new_event(
        f"registration.{event_type}",
        {
            "registration_id": registration_id,
            "kind": "attendee",
            "expo_id": "town-hall",
            "contact": {"name": "Daeun Jung", "email": f"{registration_id}@example.kr", "language": "en"},
            **payload,
        },
        version=2,
    )


def test_a_waiting_registrant_is_told_their_number_and_then_that_they_have_a_place(
    notification, publish, sink
):
    registration_id = f"r-{uuid.uuid4().hex[:8]}"
    publish(
        registration_event(registration_id, "created", revision=1, admission="waiting", waiting_position=4)
    )
    (waiting,) = wait_for(lambda: mail_to(sink, registration_id), message="the confirmation")
    assert "waiting list" in waiting["Subject"] and "on the waiting list, number 4" in waiting.get_content()

    publish(registration_event(registration_id, "updated", revision=2, admission="admitted", promoted=True))
    mails = wait_for(lambda: len(mail_to(sink, registration_id)) == 2 and mail_to(sink, registration_id))
    (promoted,) = [message for message in mails if message["Subject"] != waiting["Subject"]]
    assert promoted["Subject"].startswith("[Tech Companion] You have a place at")
