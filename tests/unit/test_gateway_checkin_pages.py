"""The door's pages on their own, through Flask's test client, with the registration service's
answers made up here: what the door is shown for each answer, the code as typed, the answer for
the page's script, undo, and which events the dashboard counts as on today."""

from datetime import UTC, datetime

import pytest

from gateway.web import checkin
from tests.unit.test_gateway_organiser_pages import client, services, sign_in, text

__all__ = ["client", "services"]

EVENT = {
    "id": "th-1",
    "kind": "town_hall",
    "name_ko": "기술동행 타운홀",
    "name_en": "Tech Companion Town Hall",
    "starts_at": "2026-12-01T05:00:00.000000Z",
    "ends_at": None,
    "status": "open",
    "venue": {},
}
COUNTS = {"event_id": "th-1", "total": 40, "companions": 6, "checked_in": 3, "checked_in_people": 5}
WELCOME = {
    "outcome": "checked_in",
    "registration_id": "r-1",
    "reference": "TCX-AAAA-BBBB",
    "kind": "attendee",
    "name": "김민지",
    "organisation": None,
    "language": "ko",
    "companions": 1,
    "companion_names": ["김영희"],
    "carer_name": "박보호",
    "accessibility_needs": {"wheelchair_access": True, "other": "앞자리"},
    "checked_in_at": "2026-12-01T01:02:00.000000Z",
}


@pytest.fixture
def door(services):
    services.answers.update(
        {
            ("registration", "list_events"): [EVENT],
            ("registration", "door_counts"): COUNTS,
            ("registration", "check_in"): WELCOME,
        }
    )
    return services


def test_a_typed_code_is_read_however_written_and_the_door_sees_who_came(client, door):
    sign_in(client)
    answer = client.post("/organiser/events/th-1/check-in?lang=en", data={"code": "abcd efgh-jkmn"})
    page = text(answer)
    assert answer.status_code == 200
    assert ("registration", "check_in", "th-1", "ABCDEFGHJKMN") == door.calls[1][:4]
    assert "Checked in: 김민지" in page and "김영희" in page and "박보호" in page
    assert "Wheelchair spaces and step-free access" in page and "앞자리" in page
    assert "3 of 40 registrations checked in (5 people with their companions)" in page
    assert 'action="/organiser/events/th-1/check-in/r-1/undo"' in page


def test_a_second_scan_says_when_and_a_refusal_says_why(client, door):
    sign_in(client)
    door.answers[("registration", "check_in")] = {**WELCOME, "outcome": "already_checked_in"}
    page = text(client.post("/organiser/events/th-1/check-in?lang=en", data={"code": "ABCD-EFGH-JKMN"}))
    assert "Already checked in at 10:02: 김민지" in page
    door.answers[("registration", "check_in")] = {
        "outcome": "other_event",
        "event": {**EVENT, "name_en": "Expo"},
    }
    page = text(client.post("/organiser/events/th-1/check-in?lang=en", data={"code": "ABCD-EFGH-JKMN"}))
    assert "This badge is for another event: Expo." in page and "Undo" not in page
    door.answers[("registration", "check_in")] = {"outcome": "not_admitted"}
    page = text(client.post("/organiser/events/th-1/check-in?lang=ko", data={"code": "ABCD-EFGH-JKMN"}))
    assert "대기" in page


def test_what_cannot_be_a_code_is_said_so_and_nothing_is_asked(client, door):
    sign_in(client)
    answer = client.post("/organiser/events/th-1/check-in?lang=en", data={"code": "TCX-1234"})
    assert answer.status_code == 422
    assert "12 letters and digits" in text(answer) and 'aria-invalid="true"' in text(answer)
    assert not [call for call in door.calls if call[1] == "check_in"]


def test_the_pages_script_gets_the_same_answer_as_json(client, door):
    sign_in(client)
    answer = client.post(
        "/organiser/events/th-1/check-in?lang=en",
        data={"code": "ABCD-EFGH-JKMN"},
        headers={"Accept": "application/json"},
    )
    body = answer.get_json()
    assert body["outcome"] == "checked_in" and body["summary"] == "Checked in: 김민지"
    assert "data-door-answer" in body["html"] and body["counts"].startswith("3 of 40")
    bad = client.post(
        "/organiser/events/th-1/check-in", data={"code": "x"}, headers={"Accept": "application/json"}
    )
    assert bad.status_code == 422 and bad.get_json()["outcome"] == "not_a_code"


def test_undo_and_counts(client, door):
    sign_in(client)
    door.answers[("registration", "undo_check_in")] = {"outcome": "undone", "registration_id": "r-1"}
    answer = client.post("/organiser/events/th-1/check-in/r-1/undo?lang=en")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(
        "/organiser/events/th-1/check-in"
    )
    assert "The check-in is undone" in text(client.get("/organiser/events/th-1/check-in?lang=en"))
    counts = client.get("/organiser/events/th-1/check-in/counts?lang=en").get_json()
    assert counts["checked_in"] == 3 and counts["text"].startswith("3 of 40")


def test_a_door_for_no_event_is_not_found(client, door):
    sign_in(client)
    assert client.get("/organiser/events/no-such-event/check-in").status_code == 404


def test_only_organisers_reach_the_door(client, door):
    assert client.get("/organiser/events/th-1/check-in").status_code == 302
    sign_in(client, organiser=False, email="someone@example.org")
    assert client.post("/organiser/events/th-1/check-in", data={"code": "ABCD-EFGH-JKMN"}).status_code == 403
    assert not [call for call in door.calls if call[1] == "check_in"]


def test_an_event_is_on_today_in_seoul_from_its_start_to_its_end():
    # 2026-12-01 23:30 in Seoul is 14:30 UTC
    late_evening = datetime(2026, 12, 1, 14, 30, tzinfo=UTC)
    assert checkin.on_today(EVENT, late_evening)
    assert not checkin.on_today(EVENT, datetime(2026, 12, 1, 15, 30, tzinfo=UTC)), "the next day in Seoul"
    two_days = {**EVENT, "ends_at": "2026-12-02T09:00:00.000000Z"}
    assert checkin.on_today(two_days, datetime(2026, 12, 2, 1, 0, tzinfo=UTC))
    assert not checkin.on_today({**EVENT, "status": "cancelled"}, late_evening)
    assert not checkin.on_today({**EVENT, "starts_at": None}, late_evening)
    assert checkin.doors_today([EVENT, {**EVENT, "status": "draft"}], late_evening) == [EVENT]
