"""Events in a real browser, in Korean and English, with the keyboard alone: an organiser creates an
event, opens it, closes its registration and is asked before cancelling it; everyone finds it in
the list of events and on its own page, with its access facts; a visitor chooses it where the
registration starts and is registered for it. Every page and state goes through check_page
(axe, reflow at 320 px, screenshots)."""

import csv
import io
import re
import uuid

import openpyxl
import pytest

from tests.browser.conftest import (
    ORGANISER_EMAIL,
    assert_controls_named,
    assert_error_summary_focused,
    check_page,
    focused,
    press_space_on,
    register,
    session_cookies,
    tab_to,
    type_into,
    unique_email,
)
from tests.platform import ORGANISER_TOKEN

DEFAULT_EXPO = "expo-2026"


def english(language: str, korean: str, english_text: str) -> str:
    return korean if language == "ko" else english_text


@pytest.fixture(scope="module")
def organiser_session(browser, platform) -> list[dict]:
    """The session cookie of an organiser signed in with the keyboard, once for the module (an
    address gets at most three unexpired sign-in links)."""
    return session_cookies(browser, platform, ORGANISER_EMAIL)


@pytest.fixture(autouse=True)
def only_the_default_expo_open_afterwards(platform):
    """Events these tests open are cancelled afterwards: the other pages' tests register with only
    the default expo taking registrations, so without a choice of event."""
    yield
    for event in platform.call("GET", "/api/v1/organiser/events", ORGANISER_TOKEN).json()["items"]:
        if event["id"] != DEFAULT_EXPO and event["status"] in ("draft", "open", "closed"):
            platform.call(
                "PATCH",
                f"/api/v1/organiser/events/{event['id']}",
                ORGANISER_TOKEN,
                json={"status": "cancelled"},
            )


def submit(page, selector: str = "main form button[type=submit]") -> None:
    tab_to(page, selector)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def open_event(platform, name_en: str, **fields) -> dict:
    """An open town hall made through the organiser API, for a page to show."""
    body = {
        "kind": "town_hall",
        "name_ko": f"기술동행 타운홀 {name_en}",
        "name_en": name_en,
        "starts_at": "2099-10-16 14:00",
        "ends_at": "2099-10-16 17:00",
        "status": "open",
        "venue": {
            "name_ko": "서울시청 다목적홀",
            "name_en": "Seoul City Hall, multi-purpose hall",
            "address_ko": "서울특별시 중구 세종대로 110",
            "address_en": "110 Sejong-daero, Jung-gu, Seoul",
            "step_free_entrance": True,
            "accessible_toilets": True,
            "hearing_loop": False,
            "subway_exit_ko": "시청역 1·2호선 5번 출구",
            "subway_exit_en": "City Hall Station (lines 1 and 2), exit 5",
            "access_notes_ko": "5번 출구 엘리베이터로 올라와 정문 경사로를 이용하세요.",
            "access_notes_en": "Take the lift at exit 5, then the ramp at the main door.",
        },
        **fields,
    }
    made = platform.call("POST", "/api/v1/organiser/events", ORGANISER_TOKEN, json=body)
    assert made.status_code == 201, made.text
    return made.json()


def test_an_organiser_creates_and_opens_an_event_with_the_keyboard_alone(
    page, platform, organiser_session, language
):
    page.context.add_cookies(organiser_session)
    name = f"Town Hall {uuid.uuid4().hex[:6]}"
    page.goto("/organiser/events")
    assert page.locator("h1").inner_text() == english(language, "행사", "Events")
    check_page(page, "organiser-events")
    tab_to(page, "main a[href='/organiser/events/new']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/organiser/events/new")
    check_page(page, "organiser-event-new")
    assert_controls_named(page)

    # sent empty: the summary has the focus and names what is needed
    submit(page)
    assert_error_summary_focused(page, language)
    links = page.locator(".error-summary a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert links == ["#kind", "#name_ko", "#name_en"]
    check_page(page, "organiser-event-new-errors")

    # radios: Tab into a group reaches its chosen option (or the first), arrows choose
    tab_to(page, "#status")
    page.keyboard.press("ArrowDown")
    assert page.locator("input[name=status]:checked").input_value() == "open"
    press_space_on(page, "#kind")
    type_into(page, "#name_ko", f"기술동행 타운홀 {name}")
    type_into(page, "#name_en", name)
    type_into(page, "#starts_at", "2099-09-18 14:00")
    type_into(page, "#ends_at", "2099-09-18 17:00")
    type_into(page, "#venue-name_ko", "서울시청 다목적홀")
    type_into(page, "#venue-name_en", "Seoul City Hall, multi-purpose hall")
    type_into(page, "#venue-subway_exit_ko", "시청역 5번 출구")
    type_into(page, "#venue-subway_exit_en", "City Hall Station, exit 5")
    # a fact not checked yet is "not known yet"; from there, up is "no", then "yes"
    tab_to(page, "#venue-step_free_entrance-unknown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert page.locator("input[name='venue-step_free_entrance']:checked").input_value() == "yes"
    tab_to(page, "#venue-hearing_loop-unknown")
    page.keyboard.press("ArrowUp")
    type_into(page, "#capacity", "150")
    submit(page)

    page.wait_for_url(re.compile(r"/organiser/events/[0-9a-f-]{36}$"))
    assert focused(page, "element.getAttribute('role') === 'status'"), "what was done is read out first"
    assert page.locator("h1").inner_text() == english(language, f"기술동행 타운홀 {name}", name)
    assert english(language, "신청 받는 중", "Registration open") in page.locator(".event-top").inner_text()
    assert page.locator("#starts_at").input_value() == "2099-09-18 14:00", "shown in Seoul's time"
    check_page(page, "organiser-event")
    assert_controls_named(page)
    event_id = page.url.rsplit("/", 1)[1]
    stored = platform.call("GET", f"/api/v1/organiser/events/{event_id}", ORGANISER_TOKEN).json()
    assert stored["starts_at"] == "2099-09-18T05:00:00.000000Z" and stored["capacity"] == 150
    assert stored["venue"]["step_free_entrance"] is True and stored["venue"]["hearing_loop"] is False
    assert "accessible_toilets" not in stored["venue"], "not known yet"

    # registration closed with its button; the list shows it
    submit(page, "form[action$='/status'] button[value=closed]")
    page.wait_for_selector("[role=status]")
    assert english(language, "신청 마감", "Registration closed") in page.locator(".event-top").inner_text()
    check_page(page, "organiser-event-closed")
    page.goto("/organiser/events")
    row = page.locator("table.data tr", has=page.locator(f"a[href='/organiser/events/{event_id}']"))
    assert english(language, "신청 마감", "Closed") in row.inner_text()
    check_page(page, "organiser-events-with-one")

    # a cancellation is asked first
    page.goto(f"/organiser/events/{event_id}")
    tab_to(page, f"a[href='/organiser/events/{event_id}/cancel']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/organiser/events/{event_id}/cancel")
    check_page(page, "organiser-event-cancel")
    submit(page)
    page.wait_for_url(f"**/organiser/events/{event_id}")
    assert platform.call("GET", f"/api/v1/events/{event_id}").json()["registration_state"] == "cancelled"


def test_a_field_the_service_refuses_is_shown_next_to_it(page, platform, organiser_session, language):
    page.context.add_cookies(organiser_session)
    page.goto("/organiser/events/new")
    press_space_on(page, "#kind")
    type_into(page, "#name_ko", "기술동행 타운홀")
    type_into(page, "#name_en", "Tech Companion Town Hall")
    type_into(page, "#starts_at", "2099-09-18 14:00")
    type_into(page, "#ends_at", "2099-09-18 09:00")
    submit(page)
    assert_error_summary_focused(page, language)
    assert page.locator("#ends_at").get_attribute("aria-invalid") == "true"
    assert (
        english(language, "시작 시간보다 뒤여야 합니다.", "Must be after the start.")
        in page.locator("#ends_at-error").inner_text()
    )
    check_page(page, "organiser-event-new-service-error")


def test_everyone_finds_an_event_its_access_and_the_way_to_register(page, platform, language):
    event = open_event(platform, f"Open Town Hall {uuid.uuid4().hex[:6]}")
    page.goto("/")
    tab_to(page, "header a[href='/events']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/events")
    assert page.locator(f"a[href='/events/{event['id']}']").count() == 1
    check_page(page, "events")
    tab_to(page, f"a[href='/events/{event['id']}']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/events/{event['id']}")
    text = page.locator("main").inner_text()
    for expected in (
        english(language, "2099년 10월 16일 금요일 14:00–17:00", "Friday, October 16, 2099 14:00–17:00"),
        english(language, "시청역 1·2호선 5번 출구", "City Hall Station (lines 1 and 2), exit 5"),
        english(language, "계단 없는 출입구", "Step-free entrance"),
        english(language, "정문 경사로", "the ramp at the main door"),
    ):
        assert expected in text, expected
    check_page(page, "event")
    assert page.locator(f"a[href='/register/attendee?event={event['id']}']").count() == 1
    assert platform.call("GET", f"/api/v1/events/{event['id']}").status_code == 200


def test_a_visitor_chooses_the_event_when_registering_with_the_keyboard_alone(page, platform, language):
    event = open_event(platform, f"Visitors Town Hall {uuid.uuid4().hex[:6]}")
    address = unique_email("event-visitor")
    page.goto("/register/attendee")
    # two events take registrations: the default expo and this one, none chosen for the person
    radios = page.locator("input[name=event_id]")
    assert radios.count() == 2 and page.locator("input[name=event_id]:checked").count() == 0
    check_page(page, "attendee-about-you-events")
    assert_controls_named(page)

    type_into(page, "#name", "이지원")
    type_into(page, "#email", address)
    tab_to(page, "#attendee_type")
    page.keyboard.press("Space")
    press_space_on(page, "#consents-privacy")
    submit(page)
    # no event chosen: the first error, linked to the choice
    assert_error_summary_focused(page, language)
    assert page.locator(".error-summary a").first.get_attribute("href") == "#event_id"
    check_page(page, "attendee-about-you-event-error")

    # the soonest first (the default expo has no date yet): Tab reaches it, Space chooses it
    press_space_on(page, "#event_id")
    assert page.locator("input[name=event_id]:checked").input_value() == event["id"]
    submit(page)
    page.wait_for_url("**/register/attendee/access")
    submit(page)
    page.wait_for_url("**/register/attendee/check")
    assert english(language, event["name_ko"], event["name_en"]) in page.locator("main").inner_text()
    check_page(page, "attendee-check-event")
    submit(page)
    page.wait_for_url("**/register/attendee/done")
    assert english(language, event["name_ko"], event["name_en"]) in page.locator(".panel-done").inner_text()
    check_page(page, "attendee-done-event")
    counted = platform.call("GET", f"/api/v1/organiser/events/{event['id']}", ORGANISER_TOKEN).json()
    assert counted["registrations"]["attendee"] == 1


def test_an_events_page_leads_to_its_registration_already_chosen(page, platform, language):
    event = open_event(platform, f"Linked Town Hall {uuid.uuid4().hex[:6]}")
    page.goto(f"/events/{event['id']}")
    tab_to(page, f"a[href='/register/company?event={event['id']}']")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/register/company\?event="))
    assert page.locator("input[name=event_id]:checked").input_value() == event["id"]
    check_page(page, "company-register-event-chosen")


def test_an_organiser_downloads_an_events_lists_from_its_page_with_the_keyboard_alone(
    page, platform, organiser_session, language
):
    """The waiting list as a CSV file and the names with needs as an Excel workbook (this organiser
    holds the permission), the download of names recorded in the audit log with the event."""
    event = open_event(platform, f"Exports {uuid.uuid4().hex[:6]}", capacity=1)
    people = [
        register(
            platform,
            "attendees",
            {
                "name": name,
                "email": unique_email("export"),
                "attendee_type": "citizen",
                "event_id": event["id"],
                "consents": {"privacy": True, "sensitive": True},
                "accessibility_needs": {"live_captioning": True},
            },
        )
        for name in ("김자리", "이대기", "박대기")
    ]
    assert [person["admission"] for person in people] == ["admitted", "waiting", "waiting"]
    page.context.add_cookies(organiser_session)
    page.goto(f"/organiser/events/{event['id']}")
    assert page.locator("#downloads").count() == 1
    check_page(page, "organiser-event-downloads")

    base = f"/organiser/events/{event['id']}/exports"
    tab_to(page, f"main a[href='{base}/waiting-list.csv']")
    with page.expect_download() as downloading:
        page.keyboard.press("Enter")
    download = downloading.value
    assert download.suggested_filename.startswith("waiting-list-") and download.suggested_filename.endswith(
        ".csv"
    )
    with open(download.path(), "rb") as file:
        data = file.read()
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte order mark, for Excel"
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0][0] == english(language, "대기 순번", "Place in line")
    assert [(row[0], row[2]) for row in table[1:]] == [("1", "이대기"), ("2", "박대기")]

    tab_to(page, f"main a[href='{base}/accessibility-names.xlsx']")
    with page.expect_download() as downloading:
        page.keyboard.press("Enter")
    workbook = downloading.value
    assert workbook.suggested_filename.endswith(".xlsx")
    with open(workbook.path(), "rb") as file:
        sheet = openpyxl.load_workbook(io.BytesIO(file.read())).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:2] == [
        english(language, "신청 번호", "Registration number"),
        english(language, "이름", "Name"),
    ]
    assert sorted(row[1] for row in rows[1:]) == ["김자리", "박대기", "이대기"]

    page.goto("/organiser/audit")
    newest = page.locator("table.data tbody tr").first
    assert (
        english(language, "이름별 접근성 지원 요청", "names with accessibility needs") in newest.inner_text()
    )
    assert newest.locator(f"a[href='/organiser/events/{event['id']}']").count() == 1
    check_page(page, "organiser-audit-event-export")
