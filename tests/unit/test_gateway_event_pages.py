"""The pages about events through Flask's test client, with the registration service made up here:
the public list and event pages, choosing the event where a registration starts (and what happens
when it stops taking registrations), and the organisers' list, form, changes and status buttons."""

import csv
import html
import io
import re
from typing import Any

import openpyxl
import pytest
from flask_smorest import abort

from gateway import spreadsheets, upstream
from gateway.app import create_app
from shared.contracts.registration import reference_of
from shared.settings import Settings
from tests.conftest import CALLER_SIGNING_KEY, unvouched
from tests.unit.programme_views import EXPO, TOWN_HALL, PublicEvents
from tests.unit.test_gateway_business_pages import COMPANY_FORM

ORGANISER = "organiser@expo.example.org"
COUNTS = {"attendee": 3, "company": 1, "investor": 0, "companions": 2, "total": 4}


# what the registration service answers for each export (export, names)
EXPORT_ROWS = {
    ("waiting_list", False): [
        {
            "position": 1,
            "id": "r-1",
            "reference": "TCX-AAAA-0001",
            "kind": "attendee",
            "name": "김서연",
            "email": "seoyeon@example.kr",
            "companions": 2,
            "party_size": 3,
            "carer_name": None,
            "waiting_since": "2026-08-01T01:00:00.000000Z",
        },
        {
            "position": 2,
            "id": "r-2",
            "reference": "TCX-AAAA-0002",
            "kind": "company",
            "name": "=cmd|' /C calc'!A0",
            "organisation": "Sori AI",
            "email": "ceo@sori.kr",
            "companions": 0,
            "party_size": 1,
            "waiting_since": "2026-08-01T02:00:00.000000Z",
        },
    ],
    ("accessibility", False): [
        {"item": "wheelchair_access", "coming": 3, "waiting": 1},
        {"item": "companions", "coming": 5, "waiting": 0},
    ],
}


class Registration(PublicEvents):
    """The registration service as these pages call it, and a record of the calls."""

    def __init__(self, *events: dict) -> None:
        super().__init__(*events)
        self.calls: list[tuple] = []
        self.refuse_create: tuple[int, str] | None = None
        self.refuse_event: dict | None = None

    def __call__(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        args = tuple(unvouched(arg) for arg in args)
        self.calls.append((method, *args))
        return getattr(self, method)(*args, **kwargs)

    def made(self, method: str) -> list[tuple]:
        return [call[1:] for call in self.calls if call[0] == method]

    def create(self, kind: str, data: dict, key: str | None = None) -> dict:
        if self.refuse_create:
            abort(self.refuse_create[0], message=self.refuse_create[1])
        registration_id = f"r-{len(self.made('create'))}"
        return {**data, "id": registration_id, "kind": kind, "reference": reference_of(registration_id)}

    def organisers_view(self, event: dict) -> dict:
        return {
            **event,
            "capacity": 150,
            "seats_taken": 148,
            "waiting": 3,
            "registrations": COUNTS,
            "next_statuses": ["closed", "cancelled"],
        }

    def list_events(self, caller: dict, with_counts: bool = True) -> list[dict]:
        return [self.organisers_view(event) for event in self.events]

    def get_event(self, event_id: str, caller: dict) -> dict:
        return self.organisers_view(self.public_event(event_id))

    def create_event(self, data: dict, caller: dict) -> dict:
        if self.refuse_event:
            abort(422, message="Some fields are invalid.", errors={"json": self.refuse_event})
        return self.organisers_view({**TOWN_HALL, **data, "id": "new-event"})

    def update_event(self, event_id: str, changes: dict, caller: dict) -> dict:
        if self.refuse_event:
            abort(422, message="Some fields are invalid.", errors={"json": self.refuse_event})
        return self.organisers_view({**self.public_event(event_id), **changes})

    def export_event(self, query: dict, caller: dict) -> list[dict]:
        return EXPORT_ROWS[(query["export"], query["names"])]

    def list_registrations(self, query: dict, caller: dict) -> dict:
        return {"items": [], "total": 0, "page": 1, "per_page": 25}

    def registrations_of(self, caller: dict) -> list[dict]:
        return [
            {
                "id": f"r-{number}",
                "kind": "attendee",
                "status": "active",
                "name": "김하나",
                "email": caller["email"],
                "reference": reference_of(f"r-{number}"),
                "attendee_type": "citizen",
                "language": "ko",
                "event_id": event_id,
            }
            for number, event_id in enumerate(("town-hall-8", "expo-2026"))
        ]


@pytest.fixture
def registration(monkeypatch) -> Registration:
    made_up = Registration(dict(EXPO), dict(TOWN_HALL))
    monkeypatch.setattr(upstream, "call", made_up)
    return made_up


@pytest.fixture
def client(registration):
    settings = Settings.from_env(
        {
            "GATEWAY_SECRET_KEY": "test-secret",
            "CALLER_SIGNING_KEY": CALLER_SIGNING_KEY,
            "AMQP_URI": "pyamqp://guest:guest@127.0.0.1:1//",
            "REGISTRATIONS_PER_CLIENT_PER_MINUTE": "0",
        }
    )
    app = create_app(settings)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


def text(response) -> str:
    return response.get_data(as_text=True)


def words(response) -> str:
    """The page's main text, one space between words."""
    page = text(response)
    main = page[page.index("<main") : page.index("</main>")]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main)))


def summary_links(response) -> list[str]:
    summary = re.search(r"data-error-summary>(.*?)</div>", text(response), re.S)
    return re.findall(r'<a href="#([^"]+)">', summary.group(1)) if summary else []


def sign_in(client, organiser: bool = True, names_with_needs: bool = False) -> None:
    with client.session_transaction() as session:
        session.update(
            email=ORGANISER if organiser else "someone@example.org",
            organiser=organiser,
            names_with_needs=names_with_needs,
        )


# --- the public pages -----------------------------------------------------------------------


def test_the_list_says_what_when_and_where_in_the_readers_language_and_seoul_time(client):
    english = words(client.get("/events?lang=en"))
    assert "August Tech Companion Town Hall" in english
    assert "Friday, August 21, 2026 14:00–17:00" in english, "05:00 UTC is 14:00 in Seoul"
    assert "Seoul City Hall, multi-purpose hall" in english and "Registration open" in english
    assert "Tech Companion Expo 2026" in english and "Date to be announced" in english
    korean = words(client.get("/events?lang=ko"))
    assert "8월 기술동행 타운홀" in korean and "2026년 8월 21일 금요일 14:00–17:00" in korean
    assert "서울시청 다목적홀" in korean and "신청 받는 중" in korean


def test_an_event_page_has_its_access_facts_and_links_to_register_for_it(client):
    page = client.get("/events/town-hall-8?lang=en")
    assert page.status_code == 200
    shown = words(page)
    for fact in (
        "Step-free entrance Yes",
        "Accessible toilets No",
        "Hearing loop Not known yet",
        "Nearest subway exit City Hall Station, exit 5",
        # an address given only in Korean is shown in Korean
        "Address 서울특별시 중구 세종대로 110",
    ):
        assert fact in shown, fact
    for link in (
        "/register/attendee?event=town-hall-8",
        "/register/company?event=town-hall-8",
        "/register/investor?event=town-hall-8",
    ):
        assert f'href="{link}"' in text(page)
    assert client.get("/events/no-such-event").status_code == 404


def test_an_event_not_taking_registrations_says_why_and_has_no_links(client, registration):
    registration.events[1].update(
        registration_state="not_yet_open", registration_opens_at="2026-07-01T01:00:00.000000Z"
    )
    page = client.get("/events/town-hall-8?lang=en")
    assert "Registration opens on July 1, 2026 10:00 (Seoul time)." in words(page)
    assert "/register/attendee?event=" not in text(page)
    registration.events[1].update(registration_state="cancelled", status="cancelled")
    assert "This event is cancelled." in words(client.get("/events/town-hall-8?lang=en"))


# --- choosing the event where a registration starts ---------------------------------------------


ABOUT = {
    "name": "김하나",
    "email": "hana@example.org",
    "attendee_type": "citizen",
    "companions": "0",
    "language": "ko",
    "consents-privacy": "yes",
}


def register_attendee(client, **about) -> Any:
    assert client.post("/register/attendee", data={**ABOUT, **about}).status_code == 303
    assert client.post("/register/attendee/access", data={}).status_code == 303
    return client.post("/register/attendee/check")


def test_with_one_event_taking_registrations_there_is_no_choice_to_make(client, registration):
    registration.events = [dict(TOWN_HALL)]
    page = client.get("/register/attendee?lang=en")
    assert 'name="event_id"' not in text(page)
    assert (
        "You are registering for August Tech Companion Town Hall (Friday, August 21, 2026 14:00–17:00)."
        in words(page)
    )
    assert register_attendee(client).status_code == 303
    ((kind, data, _),) = registration.made("create")
    assert data["event_id"] == "town-hall-8"
    assert "8월 기술동행 타운홀에 신청되었습니다." in words(client.get("/register/attendee/done?lang=ko"))
    assert "You are registered for August Tech Companion Town Hall." in words(
        client.get("/register/attendee/done?lang=en")
    )


def test_with_several_the_person_chooses_and_an_events_page_chooses_for_them(client, registration):
    page = client.get("/register/attendee?lang=en")
    assert re.findall(r'name="event_id" value="([^"]+)"', text(page)) == ["expo-2026", "town-hall-8"]
    assert "checked" not in re.search(r'<input type="radio" id="event_id"[^>]*>', text(page)).group(0)
    missing = client.post("/register/attendee?lang=en", data=ABOUT)
    assert missing.status_code == 400 and summary_links(missing)[0] == "event_id"
    assert "Choose the event you are registering for." in words(missing)
    linked = text(client.get("/register/attendee?event=town-hall-8"))
    assert re.search(r'value="town-hall-8"\s*checked', linked)
    assert register_attendee(client, event_id="town-hall-8").status_code == 303
    assert registration.made("create")[0][1]["event_id"] == "town-hall-8"


def test_the_check_page_shows_the_event_with_a_link_to_change_it(client, registration):
    client.post("/register/attendee", data={**ABOUT, "event_id": "expo-2026"})
    client.post("/register/attendee/access", data={})
    check = words(client.get("/register/attendee/check?lang=en"))
    assert "Event Tech Companion Expo 2026 (Date to be announced) Change event" in check


def test_an_event_that_closed_meanwhile_sends_the_person_back_to_choose(client, registration):
    client.post("/register/attendee", data={**ABOUT, "event_id": "town-hall-8"})
    client.post("/register/attendee/access", data={})
    registration.set_state("town-hall-8", "closed")
    gone = client.get("/register/attendee/check?lang=en")
    assert gone.status_code == 409 and summary_links(gone) == ["event_id"]
    assert "This event is no longer taking registrations." in words(gone)
    assert 'value="김하나"' in text(gone), "what was answered stays"
    # closed between the check page and sending: the service's 409 is told apart from a duplicate
    registration.set_state("town-hall-8", "open")
    client.get("/register/attendee/check")
    registration.refuse_create = (409, "Registration for this event is closed.")
    registration.set_state("town-hall-8", "closed")
    sent = client.post("/register/attendee/check?lang=en")
    assert sent.status_code == 409 and summary_links(sent) == ["event_id"]


def test_a_duplicate_for_an_event_still_open_is_already_registered(client, registration):
    registration.refuse_create = (
        409,
        "A attendee registration with this e-mail already exists for this event.",
    )
    answer = register_attendee(client, event_id="town-hall-8")
    assert answer.status_code == 409 and "hana@example.org" in text(answer)
    assert 'name="event_id"' not in text(answer)


def test_no_event_taking_registrations_says_so_on_every_first_page(client, registration):
    registration.events = [{**TOWN_HALL, "registration_state": "closed"}]
    for path in ("/register/attendee?lang=en", "/register/company?lang=en", "/register/investor?lang=en"):
        page = client.get(path)
        assert page.status_code == 200 and "No event is taking registrations right now." in words(page), path


def test_a_company_chooses_its_event_first_and_sees_it_when_checking(client, registration):
    missing = client.post("/register/company?lang=en", data=COMPANY_FORM)
    assert summary_links(missing)[0] == "event_id"
    chosen = client.post("/register/company", data={**COMPANY_FORM, "event_id": "town-hall-8"})
    assert chosen.status_code == 303
    check = words(client.get("/register/company/check?lang=en"))
    assert "Event August Tech Companion Town Hall (Friday, August 21, 2026 14:00–17:00) Change event" in check
    assert client.post("/register/company/check").status_code == 303
    assert registration.made("create")[0][1]["event_id"] == "town-hall-8"
    assert "8월 기술동행 타운홀에 신청되었습니다." in words(client.get("/register/company/done?lang=ko"))
    assert "You are registered for August Tech Companion Town Hall." in words(
        client.get("/register/company/done?lang=en")
    )


def test_an_investors_event_that_closed_meanwhile_is_said_on_the_form(client, registration):
    investor = {
        "name": "이투자",
        "organisation": "서울임팩트",
        "interests": ["elderly"],
        "stages": ["seed"],
        "email": "lee@example.org",
        "language": "ko",
        "consents-privacy": "yes",
        "event_id": "town-hall-8",
    }
    assert client.post("/register/investor", data=investor).status_code == 303
    registration.set_state("town-hall-8", "cancelled")
    gone = client.get("/register/investor/check?lang=en")
    assert gone.status_code == 409 and summary_links(gone) == ["event_id"]
    assert re.search(
        r'name="organisation"[^>]*value="서울임팩트"', text(gone)
    ) or 'value="서울임팩트"' in text(gone)


# --- the organisers' pages ----------------------------------------------------------------------


def test_the_event_pages_are_for_organisers_only(client):
    for path in ("/organiser/events", "/organiser/events/new", "/organiser/events/town-hall-8"):
        assert "/sign-in?next=" in client.get(path).headers["Location"], path
    sign_in(client, organiser=False)
    for path in ("/organiser/events", "/organiser/events/new", "/organiser/events/town-hall-8/cancel"):
        assert client.get(path).status_code == 403, path
    assert client.post("/organiser/events/town-hall-8/status", data={"status": "closed"}).status_code == 403


def test_the_list_has_every_event_with_its_registrations_linked_to_them(client):
    sign_in(client)
    page = client.get("/organiser/events?lang=en")
    assert page.status_code == 200
    assert 'href="/organiser/registrations?event_id=town-hall-8">4' in text(page)
    assert "and 2 companions" in words(page) and 'href="/organiser/events/new"' in text(page)


def test_an_event_page_says_how_many_places_are_taken_and_how_many_wait(client):
    sign_in(client)
    page = words(client.get("/organiser/events/town-hall-8?lang=en"))
    assert "Places taken 148 of 150" in page and "On the waiting list 3 registrations" in page
    korean = words(client.get("/organiser/events/town-hall-8?lang=ko"))
    assert "150석 중 148석" in korean and "신청 3건" in korean


FORM = {
    "status": "draft",
    "kind": "town_hall",
    "name_ko": "10월 기술동행 타운홀",
    "name_en": "October Tech Companion Town Hall",
    "starts_at": "2026-10-16 14:00",
    "ends_at": "2026-10-16 17:00",
    "venue-name_ko": "서울시청 다목적홀",
    "venue-step_free_entrance": "yes",
    "venue-accessible_toilets": "no",
    "venue-hearing_loop": "unknown",
    "capacity": "1,200",
}


def test_an_empty_new_event_says_what_is_needed_in_page_order(client, registration):
    sign_in(client)
    answer = client.post("/organiser/events/new?lang=en", data={"status": "draft", "capacity": "many"})
    assert answer.status_code == 400
    assert summary_links(answer) == ["kind", "name_ko", "name_en", "capacity"]
    assert "Enter the event's name in Korean." in words(answer) and "<title>Error:" in text(answer)
    assert registration.made("create_event") == []


def test_a_new_event_is_sent_in_utc_with_its_facts_and_shown_after(client, registration):
    sign_in(client)
    answer = client.post("/organiser/events/new", data=FORM)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/organiser/events/new-event")
    ((data, caller),) = registration.made("create_event")
    assert caller == {"organiser": True, "organiser_email": ORGANISER}
    assert data["starts_at"] == "2026-10-16T05:00:00.000000Z" and data["capacity"] == 1200
    assert data["venue"]["step_free_entrance"] is True and data["venue"]["accessible_toilets"] is False
    assert data["venue"]["hearing_loop"] is None and data["venue"]["address_ko"] is None
    assert data["registration_opens_at"] is None and data["status"] == "draft"


def test_the_services_errors_across_fields_land_next_to_their_field(client, registration):
    sign_in(client)
    registration.refuse_event = {
        "ends_at": ["Must be after the start."],
        "venue": {"name_en": ["Not a valid string."]},
    }
    answer = client.post("/organiser/events/new?lang=ko", data=FORM)
    assert answer.status_code == 400 and summary_links(answer) == ["ends_at", "venue-name_en"]
    assert "시작 시간보다 뒤여야 합니다." in words(answer)
    assert re.search(r'id="ends_at"[^>]*aria-invalid="true"', text(answer))


def test_an_event_is_shown_in_seoul_time_and_an_edit_sends_every_field(client, registration):
    sign_in(client)
    page = text(client.get("/organiser/events/town-hall-8?lang=en"))
    assert 'value="2026-08-21 14:00"' in page and 'value="2026-08-21 17:00"' in page
    assert re.search(
        r'id="venue-step_free_entrance" name="venue-step_free_entrance" value="yes"\s*checked', page
    )
    assert re.search(r'value="unknown"\s*checked', page), "a fact not given is not known yet"
    changed = {**FORM, "venue-name_ko": "", "capacity": ""}
    answer = client.post("/organiser/events/town-hall-8", data=changed)
    assert answer.status_code == 303
    ((event_id, data, _),) = registration.made("update_event")
    assert event_id == "town-hall-8" and "status" not in data
    assert data["capacity"] is None and data["venue"]["name_ko"] is None, "emptied fields are removed"


def test_status_buttons_open_and_close_and_a_cancellation_is_asked_first(client, registration):
    sign_in(client)
    page = text(client.get("/organiser/events/town-hall-8?lang=en"))
    assert 'name="status" value="closed"' in page
    assert 'href="/organiser/events/town-hall-8/cancel"' in page and 'value="cancelled"' not in page
    closed = client.post("/organiser/events/town-hall-8/status", data={"status": "closed"})
    assert closed.status_code == 303
    assert registration.made("update_event")[-1][:2] == ("town-hall-8", {"status": "closed"})
    assert (
        client.post("/organiser/events/town-hall-8/status", data={"status": "cancelled"}).status_code == 400
    )
    ask = client.get("/organiser/events/town-hall-8/cancel?lang=en")
    assert "Cancel August Tech Companion Town Hall?" in words(ask)
    assert "4 people are registered for it." in words(ask)
    assert client.post("/organiser/events/town-hall-8/cancel").status_code == 303
    assert registration.made("update_event")[-1][:2] == ("town-hall-8", {"status": "cancelled"})


def test_a_status_the_service_refuses_is_said_after_the_redirect(client, registration):
    sign_in(client)
    registration.refuse_event = {"starts_at": ["An event is opened only with its start time."]}
    client.post("/organiser/events/expo-2026/status?lang=en", data={"status": "open"})
    assert "An event is opened only with its start time." in words(
        client.get("/organiser/events/expo-2026?lang=en")
    )


def test_the_registrations_can_be_filtered_by_event(client, registration):
    sign_in(client)
    page = text(client.get("/organiser/registrations?lang=en&event_id=town-hall-8"))
    assert re.search(r'<option value="town-hall-8" selected>August Tech Companion Town Hall</option>', page)
    assert registration.made("list_registrations")[0][0]["event_id"] == "town-hall-8"
    assert registration.made("list_events")[0][1] is False, "the filter needs no counts"


# --- a person's own registrations -----------------------------------------------------------


def test_a_persons_registrations_say_which_event_each_is_for(client):
    with client.session_transaction() as session:
        session.update(email="hana@example.org", organiser=False)
    mine = words(client.get("/my?lang=en"))
    assert "Event: August Tech Companion Town Hall (Friday, August 21, 2026 14:00–17:00)" in mine
    assert "Event: Tech Companion Expo 2026 (Date to be announced)" in mine
    one = client.get("/my/r-0?lang=ko")
    assert "행사: 8월 기술동행 타운홀 (2026년 8월 21일 금요일 14:00–17:00)" in words(one)
    assert 'href="/events/town-hall-8"' in text(one)


# --- an event's exports ---------------------------------------------------------------------


def test_an_events_page_links_each_export_as_csv_and_excel_and_names_only_with_the_permission(client):
    sign_in(client)
    page = text(client.get("/organiser/events/town-hall-8?lang=en"))
    for name in ("registrants", "waiting-list", "accessibility", "check-ins"):
        for file_format in ("csv", "xlsx"):
            assert f'href="/organiser/events/town-hall-8/exports/{name}.{file_format}"' in page
    assert "Waiting list as an Excel workbook" in page and "Check-ins as a CSV file" in page
    assert "accessibility-names" not in page and "only for organisers given that permission" in page
    sign_in(client, names_with_needs=True)
    page = text(client.get("/organiser/events/town-hall-8?lang=ko"))
    assert 'href="/organiser/events/town-hall-8/exports/accessibility-names.xlsx"' in page


def test_the_waiting_list_downloads_as_csv_with_a_bom_a_korean_header_and_no_formula(client, registration):
    sign_in(client)
    answer = client.get("/organiser/events/town-hall-8/exports/waiting-list.csv?lang=ko")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="waiting-list-town-hall-8-')
    assert answer.headers["Cache-Control"] == "no-store"
    query = {"event_id": "town-hall-8", "export": "waiting_list", "names": False}
    assert registration.made("export_event") == [(query, {"organiser": True, "organiser_email": ORGANISER})]
    body = answer.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0][:3] == ["대기 순번", "신청 번호", "이름"]
    assert table[1][:3] == ["1", "TCX-AAAA-0001", "김서연"] and "2026-08-01 10:00" in table[1]
    assert table[2][2].startswith("'="), "a name is never run as a formula"


def test_exports_download_as_excel_workbooks_in_the_readers_language(client):
    sign_in(client)
    answer = client.get("/organiser/events/town-hall-8/exports/accessibility.xlsx?lang=en")
    assert answer.mimetype == spreadsheets.XLSX_TYPE
    assert answer.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(answer.get_data())).active
    assert sheet.title == "Accessibility preparation"
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [
        ["What to prepare", "For people with a place", "For people on the waiting list"],
        ["Wheelchair spaces and step-free access", 3, 1],
        ["Companions coming with them", 5, 0],
    ]
    waiting = openpyxl.load_workbook(
        io.BytesIO(client.get("/organiser/events/town-hall-8/exports/waiting-list.xlsx").get_data())
    ).active
    assert waiting["C3"].value == "=cmd|' /C calc'!A0" and waiting["C3"].data_type == "s"


def test_unknown_exports_are_not_found_and_registrants_are_refused(client):
    sign_in(client)
    assert client.get("/organiser/events/town-hall-8/exports/everyone.csv").status_code == 404
    assert client.get("/organiser/events/town-hall-8/exports/registrants.pdf").status_code == 404
    sign_in(client, organiser=False)
    assert client.get("/organiser/events/town-hall-8/exports/registrants.csv").status_code == 403
