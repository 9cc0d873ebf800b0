"""Organisers' pages in a real browser, in Korean and English: who may see them, the dashboard,
searching and paging the registrations, one registration with its accessibility needs and that
reading in the audit log, the CSV file, and replaying a dead letter. Every page and state goes
through check_page (axe, reflow at 320 px, screenshots), and every control on a page with a form
must have a name in the browser's accessibility tree."""

import csv
import io
import re
import time
import uuid

import pytest
from kombu import Connection, Producer

from shared.messaging import EVENTS_EXCHANGE
from tests.browser.conftest import (
    ORGANISER_EMAIL,
    check_page,
    new_page,
    register,
    sign_in,
    tab_to,
    type_into,
    unique_email,
)
from tests.conftest import wait_for
from tests.platform import ORGANISER_TOKEN

# visitors registered with the mark in their name: more than one page of 25
VISITORS = 27
# roles of the controls a person operates; each must have a name
CONTROL_ROLES = {
    "textbox",
    "searchbox",
    "combobox",
    "listbox",
    "button",
    "checkbox",
    "radio",
    "link",
    "spinbutton",
}


@pytest.fixture(scope="module")
def people(platform) -> dict:
    """Registrations to find, made through the API: visitors (some bringing companions, one with
    accessibility needs, one registered by a carer), a company and an investor, all with the same
    mark in their names."""
    mark = f"동행{uuid.uuid4().hex[:6]}"
    made: dict = {"mark": mark, "visitors": []}
    for number in range(1, VISITORS + 1):
        body = {
            "name": f"김서연 {mark} {number:02d}",
            "email": unique_email("visitor"),
            "attendee_type": "person_with_disability" if number == 1 else "citizen",
            "companions": 2 if number <= 3 else 0,
            "consents": {"privacy": True, "sensitive": number == 1},
        }
        if number == 1:
            body["accessibility_needs"] = {
                "wheelchair_access": True,
                "sign_language_interpreter": True,
                "other": "휠체어 충전이 필요합니다",
            }
        if number == 2:
            body["carer_name"] = "박보호"
        made["visitors"].append(register(platform, "attendees", body))
    made["company"] = register(
        platform,
        "companies",
        {
            "name": f"{mark} 주식회사",
            "email": unique_email("company"),
            "description": "어르신을 위한 음성 안내 기기",
            "tags": ["elderly", "ai"],
            "stage": "seed",
            "consents": {"privacy": True},
        },
    )
    made["investor"] = register(
        platform,
        "investors",
        {
            "name": f"이투자 {mark}",
            "email": unique_email("investor"),
            "organisation": f"{mark} 임팩트 펀드",
            "interests": ["elderly"],
            "stages": ["seed"],
            "consents": {"privacy": True},
        },
    )
    return made


def english(language: str, korean: str, english_text: str) -> str:
    return korean if language == "ko" else english_text


def unnamed_controls(page) -> list[str]:
    """The controls of the page that have no name in chromium's accessibility tree."""
    session = page.context.new_cdp_session(page)
    try:
        session.send("Accessibility.enable")
        nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        session.detach()
    return [
        f"{node['role']['value']} (backend node {node.get('backendDOMNodeId')})"
        for node in nodes
        if not node.get("ignored")
        and node.get("role", {}).get("value") in CONTROL_ROLES
        and not (node.get("name", {}).get("value") or "").strip()
    ]


@pytest.fixture(scope="module")
def organiser_session(browser, platform) -> list[dict]:
    """The session cookie of an organiser who signed in with the keyboard alone, once for the
    module: an address gets at most three unexpired sign-in links."""
    page = new_page(browser, platform)
    try:
        sign_in(page, platform, ORGANISER_EMAIL)
        assert re.search(r"/organiser$", page.url), f"an organiser lands on the dashboard, not {page.url}"
        return [cookie for cookie in page.context.cookies() if cookie["name"] == "tcx_session"]
    finally:
        page.context.close()


@pytest.fixture
def organiser_page(page, organiser_session):
    page.context.add_cookies(organiser_session)
    return page


def test_the_organiser_pages_are_for_organisers_only(page, platform, language):
    answer = page.goto("/organiser")
    assert "/sign-in" in page.url, "not signed in: asked to sign in first"
    address = unique_email("not-organiser")
    register(
        platform,
        "attendees",
        {"name": "최방문", "email": address, "attendee_type": "citizen", "consents": {"privacy": True}},
    )
    sign_in(page, platform, address)
    for path in (
        "/organiser",
        "/organiser/registrations",
        "/organiser/registrations.csv",
        "/organiser/audit",
    ):
        answer = page.goto(path)
        assert answer.status == 403, path
    page.goto("/organiser")
    assert page.locator("h1").inner_text() == english(
        language, "이 페이지를 볼 수 없습니다", "You cannot see this page"
    )
    check_page(page, "organiser-forbidden")
    assert page.locator("header a[href='/organiser']").count() == 0, "no organisers' link for a registrant"


def test_an_organiser_searches_pages_reads_needs_and_downloads_with_the_keyboard(
    people, organiser_page, platform, language
):
    # (people first: they are registered before the organiser signs in and the dashboard's
    # counts are read, and kept for a few seconds)
    page = organiser_page
    mark, needs_person = people["mark"], people["visitors"][0]
    page.goto("/organiser")

    # the dashboard
    assert page.locator("h1").inner_text() == english(language, "운영자 대시보드", "Organisers' dashboard")
    check_page(page, "organiser-dashboard")
    assert unnamed_controls(page) == []
    bringing, coming = (
        int(cell.replace(",", "")) for cell in page.locator("#companions-table td").all_inner_texts()
    )
    assert bringing >= 3 and coming >= 6, "visitors bringing companions, and companions, counted apart"
    started = time.perf_counter()
    page.goto("/organiser")
    print(f"\ndashboard ({language}) loaded in {time.perf_counter() - started:.3f} s")

    # the organisers' pages are linked from the header; the registrations from their own navigation
    tab_to(page, "main nav a[href='/organiser/registrations']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/organiser/registrations")
    check_page(page, "organiser-registrations")

    # a search, with the keyboard alone: more than one page of results
    type_into(page, "#q", mark)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q="))
    total = VISITORS + 2
    assert page.locator("#results").inner_text() == english(
        language, f"신청 {total}건을 찾았습니다", f"{total} registrations found"
    )
    assert page.locator("table.data tbody tr").count() == 25
    assert page.locator(".krds-pagination [aria-current=page]").inner_text() == "1"
    check_page(page, "organiser-registrations-search")
    assert unnamed_controls(page) == []
    search = page.locator("main form[role=search]")
    for role, name in (
        ("searchbox", english(language, "검색", "Search")),
        ("combobox", english(language, "종류", "Kind")),
        ("combobox", english(language, "상태", "Status")),
        ("combobox", english(language, "참가 유형", "Visitor type")),
        ("button", english(language, "검색", "Search")),
    ):
        assert search.get_by_role(role, name=name, exact=True).count() == 1, f"{role} {name!r}"

    tab_to(page, ".krds-pagination a[rel=next]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"page=2"))
    assert page.locator(".krds-pagination [aria-current=page]").inner_text() == "2"
    assert page.locator("table.data tbody tr").count() == total - 25
    assert page.locator("#q").input_value() == mark, "the search is kept from page to page"
    check_page(page, "organiser-registrations-page-2")

    # filters: companies only
    tab_to(page, "#kind")
    page.locator("#kind").select_option("company")
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"kind=company"))
    assert page.locator("table.data tbody tr").count() == 1
    assert mark in page.locator("table.data tbody").inner_text()
    check_page(page, "organiser-registrations-filtered")

    # nothing found
    page.goto(f"/organiser/registrations?q=없는사람{mark}")
    assert page.locator("table.data").count() == 0
    assert page.locator("#results").inner_text() == english(
        language, "찾은 신청이 없습니다", "No registrations found"
    )
    check_page(page, "organiser-registrations-empty")

    # a filter no form offers (an edited address): said next to its field, nothing searched
    answer = page.goto("/organiser/registrations?kind=robot")
    assert answer.status == 400
    assert page.locator("[data-error-summary] a[href='#kind']").count() == 1
    assert page.locator("#kind").get_attribute("aria-invalid") == "true"
    check_page(page, "organiser-registrations-error")

    # one registration with accessibility needs: reading them is recorded
    page.goto(f"/organiser/registrations?q={needs_person['reference']}")
    tab_to(page, f"table.data a:text-is('{needs_person['reference']}')")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/organiser/registrations/attendee/{needs_person['id']}")
    needs = page.locator("#needs ~ ul").first.inner_text()
    assert english(language, "휠체어", "Wheelchair") in needs
    assert "휠체어 충전이 필요합니다" in page.locator("main").inner_text()
    check_page(page, "organiser-registration")
    assert unnamed_controls(page) == []

    tab_to(page, "main nav a[href='/organiser/audit']")
    page.keyboard.press("Enter")
    page.wait_for_url("**/organiser/audit")
    newest = page.locator("table.data tbody tr").first.inner_text()
    assert ORGANISER_EMAIL in newest and needs_person["reference"] in newest
    assert english(language, "접근성 지원 요청 열람", "Read accessibility needs") in newest
    check_page(page, "organiser-audit")
    assert unnamed_controls(page) == []

    # the CSV file of a search: with a byte order mark, a header, and Korean names intact
    page.goto(f"/organiser/registrations?q={mark}")
    tab_to(page, "main a[href^='/organiser/registrations.csv']")
    with page.expect_download() as downloading:
        page.keyboard.press("Enter")
    download = downloading.value
    assert download.suggested_filename.startswith("registrations-") and download.suggested_filename.endswith(
        ".csv"
    )
    with open(download.path(), "rb") as file:
        data = file.read()
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte order mark, for Excel"
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, rows = table[0], table[1:]
    assert header[:4] == (
        ["신청 번호", "종류", "상태", "이름"]
        if language == "ko"
        else ["Registration number", "Kind", "Status", "Name"]
    )
    assert len(rows) == total
    names = {row[3] for row in rows}
    assert f"김서연 {mark} 01" in names and f"{mark} 주식회사" in names
    assert "휠체어" not in data.decode("utf-8-sig"), "no accessibility needs in the file"
    page.goto("/organiser/audit")
    assert english(language, "CSV", "CSV") in page.locator("table.data tbody tr").first.inner_text()


def test_a_dead_letter_is_replayed_from_its_page(organiser_page, platform, language):
    page = organiser_page
    poison = {
        "event_id": str(uuid.uuid4()),
        "type": "matching.suggested",
        "version": 1,
        "occurred_at": "2026-01-01T00:00:00.000000Z",
        "payload": {"recipient_id": {"$ne": None}},
    }
    with Connection(platform.amqp_uri) as connection:
        Producer(connection.default_channel, exchange=EVENTS_EXCHANGE).publish(
            poison, routing_key="matching.suggested", serializer="json"
        )

    def parked() -> list[dict]:
        items = platform.call("GET", "/api/v1/organiser/dead-letters", ORGANISER_TOKEN).json()["items"]
        return [item for item in items if item["id"] == poison["event_id"] and item["status"] == "parked"]

    wait_for(parked, 15, message="the poison message to be parked")
    page.goto("/organiser/dead-letters")
    row = page.locator("li.journey", has=page.locator(f"code:text-is('{poison['event_id']}')"))
    assert row.count() == 1
    check_page(page, "organiser-dead-letters")
    assert unnamed_controls(page) == []

    tab_to(page, f"form[action$='/notification/{poison['event_id']}/replay'] button")
    page.keyboard.press("Enter")
    page.wait_for_selector("[role=status]")
    assert poison["event_id"] in page.locator("[role=status]").inner_text()
    # the result is read out first: the status message has the focus
    page.wait_for_function(
        "document.activeElement && document.activeElement.getAttribute('role') === 'status'"
    )
    check_page(page, "organiser-dead-letters-replayed")
    # still poison: parked again, with one replay
    wait_for(
        lambda: (found := parked()) and found[0]["replays"] == 1,
        15,
        message="the replayed poison parked again",
    )
