"""What notification tells of the events of the programme: which event, when and where, in each
language; the check-in code and the calendar entry; the reminders of the day before, and the
notices of a cancelled or moved event."""

from datetime import UTC, datetime
from email import message_from_bytes, policy

import icalendar
import pytest

from notification import domain
from notification.mailer import _message
from shared import badges
from shared.contracts.events import new_event, parse_event

SITE = {
    "base_url": "http://expo.test",
    "expo_name_ko": "2026 기술동행 박람회",
    "expo_name_en": "Tech Companion Expo 2026",
}
CODE = "ABCD2345EFGH"
# Wednesday 2 December 2026, 14:00 to 17:00 in Seoul
STARTS, ENDS = "2026-12-02T05:00:00.000000Z", "2026-12-02T08:00:00.000000Z"
VENUE = {
    "name_ko": "서울시청 다목적홀",
    "name_en": "Seoul City Hall, multipurpose hall",
    "address_ko": "서울 중구 세종대로 110",
    "step_free_entrance": True,
    "accessible_toilets": False,
    "subway_exit_ko": "시청역 1·2호선 5번 출구",
    "subway_exit_en": "City Hall Station, exit 5",
    "access_notes_ko": "정문 왼쪽 경사로를 이용해 주세요.",
    "access_notes_en": "Take the ramp left of the main door.",
}
TOWN_HALL = {
    "_id": "th-12",
    "revision": 3,
    "kind": "town_hall",
    "status": "open",
    "name_ko": "12월 기술동행 타운홀",
    "name_en": "December Tech Companion Town Hall",
    "starts_at": STARTS,
    "ends_at": ENDS,
    "venue": VENUE,
}


def person(language="en", admission="admitted", status="active", code=CODE, registration_id="r-1"):
    return {
        "_id": registration_id,
        "registration_id": registration_id,
        "name": "Daeun Jung" if language == "en" else "정다은",
        "email": "daeun@example.kr",
        "language": language,
        "kind": "attendee",
        "status": status,
        "event_id": "th-12",
        "admission": admission,
        "checkin_code": code,
    }


# --- confirmations name their event -----------------------------------------------------------


def test_a_confirmation_says_which_event_when_and_where_in_english_and_shows_the_code():
    subject, body = domain.render(
        "registration_confirmed", {"registrant_kind": "attendee"}, person(), SITE, programme_event=TOWN_HALL
    )
    assert subject == "[Tech Companion] Your registration for December Tech Companion Town Hall is confirmed"
    assert "When: Wednesday 2 December 2026, 14:00–17:00 (Seoul time)\n" in body
    assert "Where: Seoul City Hall, multipurpose hall, 서울 중구 세종대로 110\n" in body
    assert "Check-in code: ABCD-2345-EFGH\n" in body


def test_a_confirmation_in_korean_uses_korean_dates_and_names():
    subject, body = domain.render(
        "registration_confirmed",
        {"registrant_kind": "attendee"},
        person("ko"),
        SITE,
        programme_event=TOWN_HALL,
    )
    assert "12월 기술동행 타운홀" in subject
    assert "일시: 2026년 12월 2일 (수) 14:00~17:00 (서울 시간)\n" in body
    assert "장소: 서울시청 다목적홀, 서울 중구 세종대로 110\n" in body
    assert "입장 코드: ABCD-2345-EFGH\n" in body


def test_someone_waiting_is_told_when_and_where_but_gets_no_code_or_calendar_entry():
    waiting = person(admission="waiting", code=None)
    data = {"registrant_kind": "attendee", "waiting_position": 3}
    _, body = domain.render("registration_confirmed", data, waiting, SITE, programme_event=TOWN_HALL)
    assert "When: Wednesday 2 December 2026" in body and "Check-in code" not in body
    assert domain.attachments("registration_confirmed", waiting, TOWN_HALL, SITE, datetime.now(UTC)) == []


def test_while_the_event_is_not_known_the_confirmation_names_the_default_expo_as_before():
    subject, body = domain.render(
        "registration_confirmed", {"registrant_kind": "attendee"}, person(code=None), SITE
    )
    assert "Tech Companion Expo 2026" in subject and "When:" not in body
    assert "Registration number: " in body and "\n\n\nTo view" not in body


def test_an_end_on_another_day_is_dated():
    text = domain.when_text(STARTS, "2026-12-03T08:00:00.000000Z", "en")
    assert text == "Wednesday 2 December 2026, 14:00 to 3 December, 17:00 (Seoul time)"
    assert domain.when_text(STARTS, None, "ko") == "2026년 12월 2일 (수) 14:00 (서울 시간)"


# --- the QR code and the calendar entry -------------------------------------------------------


def test_a_confirmation_carries_the_qr_code_inline_and_a_calendar_entry_in_the_persons_language():
    now = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    qr, entry = domain.attachments("registration_confirmed", person("ko"), TOWN_HALL, SITE, now)
    assert (qr.content_type, qr.inline, qr.filename) == ("image/png", True, "checkin-ABCD-2345-EFGH.png")
    assert qr.content == badges.qr_png(CODE)
    assert entry.content_type == "text/calendar" and entry.parameters == (("method", "PUBLISH"),)
    calendar = icalendar.Calendar.from_ical(entry.content)
    assert calendar["METHOD"] == "PUBLISH"
    (event,) = calendar.walk("VEVENT")
    assert event["SUMMARY"] == "12월 기술동행 타운홀"
    assert event["LOCATION"] == "서울시청 다목적홀, 서울 중구 세종대로 110"
    assert event.decoded("DTSTART") == datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    assert event["UID"] == domain.calendar_uid("r-1", "th-12") and event["SEQUENCE"] == 3
    assert event["STATUS"] == "CONFIRMED"


def test_the_calendar_entry_is_the_same_entry_for_a_registration_and_its_event_and_cancelled_with_it():
    assert domain.calendar_uid("r-1", "th-12") == domain.calendar_uid("r-1", "th-12")
    assert domain.calendar_uid("r-1", "th-12") != domain.calendar_uid("r-2", "th-12")
    cancelled = {**TOWN_HALL, "status": "cancelled", "revision": 4}
    (entry,) = domain.attachments("event_changed", person(), cancelled, SITE, datetime.now(UTC))
    (event,) = icalendar.Calendar.from_ical(entry.content).walk("VEVENT")
    assert event["STATUS"] == "CANCELLED" and event["SEQUENCE"] == 4


def test_no_calendar_entry_without_a_start_and_none_for_the_e_mails_that_are_not_about_coming():
    undated = {**TOWN_HALL, "starts_at": None, "ends_at": None}
    (qr,) = domain.attachments("registration_confirmed", person(), undated, SITE, datetime.now(UTC))
    assert qr.content_type == "image/png"
    assert domain.attachments("registration_cancelled", person(), TOWN_HALL, SITE, datetime.now(UTC)) == []


def test_a_change_e_mail_shows_the_badge_as_it_is_now_a_new_one_included():
    renewed = person(code="WXYZ6789KMNP")
    _, body = domain.render("registration_changed", {}, renewed, SITE, programme_event=TOWN_HALL)
    assert "WXYZ-6789-KMNP" in body and CODE not in body
    (qr,) = domain.attachments("registration_changed", renewed, TOWN_HALL, SITE, datetime.now(UTC))
    assert qr.content == badges.qr_png("WXYZ6789KMNP"), "no calendar entry: nothing about coming changed"
    _, waiting = domain.render("registration_changed", {}, person(admission="waiting"), SITE)
    assert "ABCD-2345-EFGH" not in waiting


def test_the_message_is_its_text_then_the_inline_image_then_the_calendar_entry():
    attached = domain.attachments("registration_confirmed", person(), TOWN_HALL, SITE, datetime.now(UTC))
    built = _message(
        "Expo <no-reply@expo.example.org>",
        "Daeun",
        "daeun@example.kr",
        "Hi",
        "Body\n",
        "<x@y>",
        "en",
        attached,
    )
    message = message_from_bytes(built.as_bytes(), policy=policy.default)
    text, image, calendar = message.iter_parts()
    assert message.get_content_type() == "multipart/mixed" and text.get_content() == "Body\n"
    assert image.get_content_disposition() == "inline" and image.get_content() == badges.qr_png(CODE)
    assert calendar.get_content_type() == "text/calendar" and calendar.get_param("method") == "PUBLISH"
    assert calendar.get_filename() == "event.ics"


# --- reminders --------------------------------------------------------------------------------


def seoul(day, hour, minute=0):
    """A moment of December 2026, in Seoul time."""
    return datetime(2026, 12, day, hour, minute, tzinfo=domain.SEOUL)


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (seoul(1, 9, 59), False),  # the day before, before the hour
        (seoul(1, 10, 0), True),
        (seoul(1, 23, 59), True),
        (seoul(2, 10, 0), False),  # the day itself
        (seoul(1, 10).replace(month=11), False),  # a month before
    ],
)
def test_reminders_are_due_from_the_hour_the_day_before_in_seoul(now, due):
    assert (domain.reminders_due([TOWN_HALL], now, 10) == [TOWN_HALL]) is due


def test_reminders_are_planned_once_per_start_and_not_for_cancelled_or_undated_events():
    now = seoul(1, 11)
    assert domain.reminders_due([{**TOWN_HALL, "reminded_for": STARTS}], now, 10) == []
    moved = {**TOWN_HALL, "reminded_for": "2026-12-01T05:00:00.000000Z"}
    assert domain.reminders_due([moved], now, 10) == [moved]
    assert (
        domain.reminders_due(
            [{**TOWN_HALL, "status": "cancelled"}, {**TOWN_HALL, "starts_at": None}], now, 10
        )
        == []
    )


def test_only_people_with_a_place_are_reminded_and_each_once_whoever_plans_it():
    people = [
        person(registration_id="admitted"),
        person(registration_id="no-capacity", admission=None),
        person(registration_id="waiting", admission="waiting", code=None),
        person(registration_id="offered", admission="offered", code=None),
        person(registration_id="cancelled", status="cancelled", code=None),
    ]
    planned = domain.reminder_notifications(TOWN_HALL, people, "2026-12-01T01:00:00.000000Z")
    assert [reminder["recipient_id"] for reminder in planned] == ["admitted", "no-capacity"]
    again = domain.reminder_notifications(TOWN_HALL, people, "2026-12-01T01:01:00.000000Z")
    assert [reminder["_id"] for reminder in again] == [reminder["_id"] for reminder in planned]
    assert planned[0]["status"] == "queued" and planned[0]["kind"] == "event_reminder"


def test_a_reminder_is_not_sent_to_someone_who_cancelled_meanwhile_nor_for_a_cancelled_event():
    now = seoul(1, 11).astimezone(UTC)
    assert domain.still_to_send("event_reminder", person(), TOWN_HALL, now)
    assert not domain.still_to_send("event_reminder", person(status="cancelled"), TOWN_HALL, now)
    assert not domain.still_to_send("event_reminder", person(), {**TOWN_HALL, "status": "cancelled"}, now)
    assert not domain.still_to_send("event_reminder", person(), TOWN_HALL, seoul(2, 15).astimezone(UTC))


def test_the_reminder_says_when_where_how_to_get_there_step_free_and_shows_the_code():
    subject, body = domain.render(
        "event_reminder", {"programme_event_id": "th-12"}, person(), SITE, programme_event=TOWN_HALL
    )
    assert subject == "[Tech Companion] Tomorrow: December Tech Companion Town Hall"
    assert "When: Wednesday 2 December 2026, 14:00–17:00 (Seoul time)" in body
    assert "Getting there step-free:\n- Subway: City Hall Station, exit 5\n" in body
    assert "- Step-free entrance: yes\n- Accessible toilets: no\n- Hearing loop: not known yet\n" in body
    assert "- Take the ramp left of the main door." in body and "Check-in code: ABCD-2345-EFGH" in body


def test_the_korean_reminder():
    subject, body = domain.render("event_reminder", {}, person("ko"), SITE, programme_event=TOWN_HALL)
    assert subject == "[기술동행] 내일 열리는 12월 기술동행 타운홀 안내"
    assert "오시는 길 (계단 없이):\n- 지하철: 시청역 1·2호선 5번 출구\n- 계단 없는 입구: 있음\n" in body
    assert "- 정문 왼쪽 경사로를 이용해 주세요." in body and "입장 코드: ABCD-2345-EFGH" in body


# --- cancelled and moved events ---------------------------------------------------------------


def changed(changes, previous=None, **fields):
    payload = {
        "programme_event_id": "th-12",
        "revision": 4,
        "kind": "town_hall",
        "status": "open",
        "name_ko": TOWN_HALL["name_ko"],
        "name_en": TOWN_HALL["name_en"],
        "starts_at": STARTS,
        "venue": VENUE,
        "changes": changes,
        "previous": previous,
        **fields,
    }
    return parse_event(new_event("registration.programme_event_changed", payload))


def test_everyone_registered_is_told_of_a_change_once_each_and_nobody_of_a_change_that_is_no_news():
    people = [
        person(registration_id="admitted"),
        person(registration_id="waiting", admission="waiting", code=None),
        person(registration_id="offered", admission="offered", code=None),
        person(registration_id="cancelled", status="cancelled", code=None),
    ]
    event = changed(["cancelled"], {"starts_at": STARTS, "venue": VENUE}, status="cancelled")
    notices = domain.change_notifications(event, people, "2026-12-01T01:00:00.000000Z")
    assert [notice["recipient_id"] for notice in notices] == ["admitted", "waiting", "offered"]
    assert len({notice["_id"] for notice in notices}) == 3
    assert notices == domain.change_notifications(event, people, "2026-12-01T01:00:00.000000Z")
    assert domain.change_notifications(changed([]), people, "2026-12-01T01:00:00.000000Z") == []


def test_a_cancellation_notice_in_both_languages():
    event = {**TOWN_HALL, "status": "cancelled"}
    subject, body = domain.render(
        "event_changed", {"changes": ["cancelled"]}, person(), SITE, programme_event=event
    )
    assert subject == "[Tech Companion] December Tech Companion Town Hall is cancelled"
    assert "The event was:\nWhen: Wednesday 2 December 2026" in body
    subject, body = domain.render(
        "event_changed", {"changes": ["cancelled"]}, person("ko"), SITE, programme_event=event
    )
    assert subject == "[기술동행] 12월 기술동행 타운홀 행사가 취소되었습니다"


def test_a_move_says_what_it_was_and_what_it_is_now_with_has_or_have():
    later = {**TOWN_HALL, "starts_at": "2026-12-09T05:00:00.000000Z", "ends_at": None}
    data = {"changes": ["starts_at"], "previous_starts_at": STARTS, "previous_venue": VENUE}
    subject, body = domain.render("event_changed", data, person(), SITE, programme_event=later)
    assert subject == "[Tech Companion] The time of December Tech Companion Town Hall has changed"
    assert (
        "Before:\nWhen: Wednesday 2 December 2026, 14:00 (Seoul time)\n\nNow:\nWhen: Wednesday 9 December"
        in body
    )
    assert "Getting there step-free" not in body
    both = {**data, "changes": ["starts_at", "venue"]}
    subject, body = domain.render("event_changed", both, person(), SITE, programme_event=later)
    assert subject == "[Tech Companion] The time and venue of December Tech Companion Town Hall have changed"
    assert "Getting there step-free:" in body
    subject, body = domain.render("event_changed", both, person("ko"), SITE, programme_event=later)
    assert subject == "[기술동행] 12월 기술동행 타운홀 일시와 장소 변경 안내"
    assert "일시와 장소가 바뀌었습니다" in body and "이전:\n일시: 2026년 12월 2일 (수) 14:00" in body
