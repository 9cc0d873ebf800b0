"""What people are told of their place: a confirmation on the waiting list gives their number
in line, and a promotion tells them they have a place, in Korean and English."""

from notification import domain
from shared.contracts.events import new_event, parse_event
from shared.contracts.registration import reference_of
from tests.unit.test_notification_emails import SITE

CONTACT = {"name": "정다은", "email": "daeun@example.kr", "language": "ko"}


def planned(event_type: str, **payload):
    body = {
        "registration_id": "a-1",
        "kind": "attendee",
        "expo_id": "town-hall",
        "revision": 1,
        "contact": CONTACT,
        **payload,
    }
    (one,) = domain.plan(parse_event(new_event(event_type, body, version=2)))
    return one


def rendered(one, language: str) -> tuple[str, str]:
    return domain.render(
        one.kind, one.data, {**CONTACT, "registration_id": "a-1", "language": language}, SITE
    )


def test_a_confirmation_on_the_waiting_list_gives_the_number_in_line():
    one = planned("registration.created", admission="waiting", waiting_position=7)
    assert one.kind == "registration_confirmed" and one.data["waiting_position"] == 7
    subject, body = rendered(one, "en")
    assert subject == "[Tech Companion] You are on the waiting list for Tech Companion Expo 2026"
    assert "on the waiting list, number 7" in body and reference_of("a-1") in body
    subject, body = rendered(one, "ko")
    assert "대기자 명단" in subject and "대기자 명단 7번" in body


def test_an_admitted_registration_is_confirmed_as_before():
    one = planned("registration.created", admission="admitted")
    assert "waiting_position" not in one.data
    assert (
        rendered(one, "en")[0]
        == "[Tech Companion] Your registration for Tech Companion Expo 2026 is confirmed"
    )
    # a version 2 event of a registration made before events had a capacity
    assert "waiting_position" not in planned("registration.created").data


def test_a_promotion_tells_the_person_they_have_a_place():
    one = planned("registration.updated", admission="admitted", promoted=True, revision=2)
    assert one.kind == "registration_promoted"
    subject, body = rendered(one, "en")
    assert subject == "[Tech Companion] You have a place at Tech Companion Expo 2026"
    assert "you were next on the waiting list" in body and "http://expo.test/my" in body
    subject, body = rendered(one, "ko")
    assert subject == "[기술동행] 2026 기술동행 박람회에 자리가 확정되었습니다" and "대기 순서" in body


def test_any_other_change_is_told_as_a_change():
    assert planned("registration.updated", admission="admitted", revision=2).kind == "registration_changed"


def test_version_1_registration_events_are_still_read():
    body = {
        "registration_id": "a-1",
        "kind": "attendee",
        "expo_id": "expo-2026",
        "revision": 1,
        "contact": CONTACT,
    }
    (one,) = domain.plan(parse_event(new_event("registration.created", body)))
    assert one.kind == "registration_confirmed" and one.data == {"registrant_kind": "attendee"}


def test_a_promotion_with_a_hold_asks_to_confirm_by_the_deadline_in_seoul_time():
    one = planned(
        "registration.updated",
        admission="offered",
        promoted=True,
        revision=2,
        offer_expires_at="2026-08-01T09:30:00.000000Z",
    )
    assert one.kind == "registration_promoted" and one.data["offer_expires_at"]
    subject, body = rendered(one, "en")
    assert subject == "[Tech Companion] A place at Tech Companion Expo 2026 is yours: please confirm it"
    assert "until 2026-08-01 18:30\n(Seoul time)" in body and '"Confirm my place"' in body
    subject, body = rendered(one, "ko")
    assert "참석을 확정해 주세요" in subject and "2026-08-01 18:30(서울 시간)까지" in body
