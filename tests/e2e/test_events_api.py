"""Events over HTTP, the whole platform running: organisers create, change, open and close
events through the organiser API; everyone lists what is on; a registration names its event (or
is for the default expo), and one for an event that takes none gets a JSON error saying why."""

import uuid

import pytest

from tests.platform import ORGANISER_TOKEN

pytestmark = pytest.mark.e2e

EVENTS, ORGANISER_EVENTS = "/api/v1/events", "/api/v1/organiser/events"


def town_hall(**fields) -> dict:
    return {
        "kind": "town_hall",
        "name_ko": "8월 기술동행 타운홀",
        "name_en": "August Tech Companion Town Hall",
        "starts_at": "2099-08-21T14:00:00+09:00",
        "ends_at": "2099-08-21 17:00",
        "venue": {
            "name_ko": "서울시청 8층 다목적홀",
            "name_en": "Seoul City Hall, multi-purpose hall (8th floor)",
            "address_ko": "서울특별시 중구 세종대로 110",
            "step_free_entrance": True,
            "accessible_toilets": True,
            "hearing_loop": None,
            "subway_exit_ko": "시청역 1·2호선 5번 출구",
        },
        "capacity": 120,
        **fields,
    }


def attendee(**fields) -> dict:
    return {
        "name": "정다은",
        "email": f"visitor-{uuid.uuid4().hex[:8]}@example.kr",
        "attendee_type": "student",
        "consents": {"privacy": True},
        **fields,
    }


def test_the_default_expo_is_listed_and_clients_that_name_no_event_register_for_it(platform):
    listed = platform.call("GET", EVENTS)
    assert listed.status_code == 200
    (expo,) = [event for event in listed.json()["items"] if event["id"] == "expo-2026"]
    assert expo["kind"] == "expo" and expo["registration_state"] == "open" and expo["name_ko"]
    created = platform.call("POST", "/api/v1/attendees", json=attendee())
    assert created.status_code == 201 and created.json()["event_id"] == "expo-2026"
    read = platform.call("GET", f"/api/v1/attendees/{created.json()['id']}", created.json()["manage_token"])
    assert read.json()["event_id"] == "expo-2026"


def test_organisers_make_an_event_people_register_for_it_and_it_closes(platform):
    made = platform.call("POST", ORGANISER_EVENTS, ORGANISER_TOKEN, json=town_hall())
    assert made.status_code == 201, made.text
    event = made.json()
    assert event["status"] == "draft" and event["starts_at"] == "2099-08-21T05:00:00.000000Z"
    assert event["ends_at"] == "2099-08-21T08:00:00.000000Z" and event["capacity"] == 120
    path = f"{ORGANISER_EVENTS}/{event['id']}"

    # a draft is nobody else's to see or register for
    assert platform.call("GET", f"{EVENTS}/{event['id']}").status_code == 404
    assert event["id"] not in {e["id"] for e in platform.call("GET", EVENTS).json()["items"]}
    refused = platform.call("POST", "/api/v1/attendees", json=attendee(event_id=event["id"]))
    assert refused.status_code == 404 and refused.json()["message"]

    opened = platform.call(
        "PATCH", path, ORGANISER_TOKEN, json={"status": "open", "venue": {"hearing_loop": True}}
    )
    assert opened.status_code == 200, opened.text
    assert (
        opened.json()["venue"]["hearing_loop"] is True
        and opened.json()["venue"]["step_free_entrance"] is True
    )
    public = platform.call("GET", f"{EVENTS}/{event['id']}").json()
    assert public["registration_state"] == "open" and "capacity" not in public
    assert public["venue"]["subway_exit_ko"] == "시청역 1·2호선 5번 출구"

    created = platform.call("POST", "/api/v1/attendees", json=attendee(event_id=event["id"], companions=1))
    assert created.status_code == 201 and created.json()["event_id"] == event["id"]
    counted = platform.call("GET", path, ORGANISER_TOKEN).json()["registrations"]
    assert (counted["attendee"], counted["companions"], counted["total"]) == (1, 1, 1)
    listed = {e["id"]: e for e in platform.call("GET", ORGANISER_EVENTS, ORGANISER_TOKEN).json()["items"]}
    assert listed[event["id"]]["registrations"]["total"] == 1 and "expo-2026" in listed

    # a registration's event is not changed afterwards
    moved = platform.call(
        "PATCH",
        f"/api/v1/attendees/{created.json()['id']}",
        created.json()["manage_token"],
        json={"event_id": "expo-2026"},
    )
    assert moved.status_code == 422

    assert platform.call("PATCH", path, ORGANISER_TOKEN, json={"status": "closed"}).status_code == 200
    closed = platform.call("POST", "/api/v1/attendees", json=attendee(event_id=event["id"]))
    assert closed.status_code == 409
    assert closed.json()["message"] == "Registration for this event is closed."
    in_korean = platform.call(
        "POST", "/api/v1/attendees", json=attendee(event_id=event["id"]), headers={"Accept-Language": "ko"}
    )
    assert in_korean.status_code == 409 and "마감" in in_korean.json()["message"]
    assert platform.call("GET", f"{EVENTS}/{event['id']}").json()["registration_state"] == "closed"


def test_an_unknown_event_and_a_window_not_open_yet_are_said_in_json(platform):
    unknown = platform.call(
        "POST",
        "/api/v1/companies",
        json={
            "name": "Barrier Free Ltd",
            "email": f"company-{uuid.uuid4().hex[:8]}@example.kr",
            "description": "Step-free routes on a map",
            "tags": ["mobility"],
            "stage": "seed",
            "consents": {"privacy": True},
            "event_id": "no-such-event",
        },
    )
    assert unknown.status_code == 404 and set(unknown.json()) >= {"code", "status", "message"}
    later = platform.call(
        "POST",
        ORGANISER_EVENTS,
        ORGANISER_TOKEN,
        json=town_hall(status="open", registration_opens_at="2099-07-01 10:00"),
    ).json()
    early = platform.call("POST", "/api/v1/attendees", json=attendee(event_id=later["id"]))
    assert early.status_code == 409
    assert early.json()["message"] == "Registration for this event opens at 2099-07-01 10:00 (Seoul time)."
    listed = {e["id"]: e for e in platform.call("GET", EVENTS).json()["items"]}
    assert listed[later["id"]]["registration_state"] == "not_yet_open"


def test_the_organiser_api_is_for_organisers_and_refuses_bad_events_field_by_field(platform):
    assert platform.call("GET", ORGANISER_EVENTS).status_code == 401
    assert platform.call("POST", ORGANISER_EVENTS, json=town_hall()).status_code == 401
    someone = platform.call("POST", "/api/v1/attendees", json=attendee()).json()["manage_token"]
    assert platform.call("GET", ORGANISER_EVENTS, someone).status_code == 403
    assert platform.call("POST", ORGANISER_EVENTS, someone, json=town_hall()).status_code == 403

    bad = platform.call(
        "POST",
        ORGANISER_EVENTS,
        ORGANISER_TOKEN,
        json=town_hall(kind="party", starts_at="next Friday", capacity=0, name_ko={"$ne": None}),
    )
    assert bad.status_code == 422
    assert set(bad.json()["errors"]["json"]) == {"kind", "starts_at", "capacity", "name_ko"}
    backwards = platform.call(
        "POST", ORGANISER_EVENTS, ORGANISER_TOKEN, json=town_hall(ends_at="2099-08-21 09:00")
    )
    assert backwards.status_code == 422 and list(backwards.json()["errors"]["json"]) == ["ends_at"]
    undated = platform.call(
        "POST", ORGANISER_EVENTS, ORGANISER_TOKEN, json=town_hall(status="open", starts_at=None, ends_at=None)
    )
    assert undated.status_code == 422 and list(undated.json()["errors"]["json"]) == ["starts_at"]
    assert (
        platform.call("PATCH", f"{ORGANISER_EVENTS}/no-such-event", ORGANISER_TOKEN, json={}).status_code
        == 404
    )
    assert platform.call("GET", f"{ORGANISER_EVENTS}/no-such-event", ORGANISER_TOKEN).status_code == 404


def test_an_organiser_asks_over_http_to_destroy_an_events_personal_data_once_it_is_over(platform):
    event = platform.call("POST", ORGANISER_EVENTS, ORGANISER_TOKEN, json=town_hall(status="open")).json()
    purge = f"{ORGANISER_EVENTS}/{event['id']}/purge"
    assert platform.call("POST", purge).status_code == 401
    too_early = platform.call("POST", purge, ORGANISER_TOKEN, headers={"Accept-Language": "ko"})
    assert too_early.status_code == 409 and "파기" in too_early.json()["message"]
    platform.call("PATCH", f"{ORGANISER_EVENTS}/{event['id']}", ORGANISER_TOKEN, json={"status": "cancelled"})
    asked = platform.call("POST", purge, ORGANISER_TOKEN)
    assert asked.status_code == 202 and asked.json()["purge_requested_at"]
    assert (
        platform.call("POST", f"{ORGANISER_EVENTS}/no-such-event/purge", ORGANISER_TOKEN).status_code == 404
    )
