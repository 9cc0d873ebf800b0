"""An event's exports over HTTP with the organiser token, the whole platform running: CSV files
with a byte order mark and a header in the language asked for, Excel workbooks that open with the
rows, the waiting list in line order, check-ins, accessibility counts, and names with needs
refused to the shared token."""

import csv
import io

import openpyxl
import pytest
from pymongo import MongoClient

from shared import clock
from tests.e2e.test_events_api import ORGANISER_EVENTS, attendee, town_hall
from tests.platform import ORGANISER_TOKEN

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def event(platform) -> tuple[str, dict]:
    """An event with one place: one admitted (with needs, checked in at the door), two waiting."""
    made = platform.call("POST", ORGANISER_EVENTS, ORGANISER_TOKEN, json=town_hall(status="open", capacity=1))
    assert made.status_code == 201, made.text
    event_id = made.json()["id"]
    people = {}
    for name, extra in (
        (
            "김첫째",
            {
                "accessibility_needs": {"wheelchair_access": True},
                "consents": {"privacy": True, "sensitive": True},
            },
        ),
        ("이둘째", {}),
        ("박셋째", {"companions": 1}),
    ):
        answer = platform.call(
            "POST", "/api/v1/attendees", json=attendee(event_id=event_id, name=name, **extra)
        )
        assert answer.status_code == 201, answer.text
        people[name] = answer.json()
    with MongoClient(platform.mongo_uri) as client:
        client["registration"]["registrations"].update_one(
            {"_id": people["김첫째"]["id"]},
            {
                "$set": {"checked_in_at": clock.now_iso(), "checked_in_by": "organiser token"},
                "$inc": {"_v": 1},
            },
        )
    return event_id, people


def download(platform, event_id: str, export: str, token: str | None = ORGANISER_TOKEN, **query):
    headers = {"Accept-Language": query.pop("language")} if "language" in query else {}
    return platform.call(
        "GET", f"{ORGANISER_EVENTS}/{event_id}/exports/{export}", token, params=query, headers=headers
    )


def csv_table(answer) -> list[list[str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf"), "UTF-8 with a byte order mark, for Excel"
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))


def workbook_rows(answer) -> list[list]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_registrants_and_the_waiting_list_as_csv_and_excel(platform, event):
    event_id, people = event
    table = csv_table(download(platform, event_id, "registrants", language="ko"))
    header = table[0]
    assert header[:4] == ["신청 번호", "종류", "상태", "이름"] and "자리" in header
    by_name = {row[3]: row[header.index("자리")] for row in table[1:]}
    assert by_name == {"김첫째": "자리 확보", "이둘째": "대기자", "박셋째": "대기자"}
    assert "휠체어" not in "".join(map(str, table)), "no accessibility needs among the registrants"

    rows = workbook_rows(download(platform, event_id, "waiting-list", format="xlsx"))
    assert rows[0][:3] == ["Place in line", "Registration number", "Name"]
    assert [(row[0], row[2]) for row in rows[1:]] == [(1, "이둘째"), (2, "박셋째")]
    places_needed = rows[0].index("Places needed")
    assert rows[2][places_needed] == 2, "a party of two"


def test_check_ins_and_accessibility_counts(platform, event):
    event_id, people = event
    table = csv_table(download(platform, event_id, "check-ins"))
    assert [row[1] for row in table[1:]] == ["김첫째"]
    assert table[1][table[0].index("Checked in by")] == "organiser token"

    rows = workbook_rows(download(platform, event_id, "accessibility", format="xlsx"))
    assert rows[0] == ["What to prepare", "For people with a place", "For people on the waiting list"]
    counts = {row[0]: row[1:] for row in rows[1:]}
    assert counts["Wheelchair spaces and step-free access"] == [1, 0]
    assert counts["Companions coming with them"] == [0, 1]
    assert "김첫째" not in str(rows), "counts only"


def test_names_with_needs_are_refused_to_the_token_and_bad_requests_are_4xx(platform, event):
    event_id, _ = event
    refused = download(platform, event_id, "accessibility", names="true")
    assert refused.status_code == 403 and "ORGANISER_SENSITIVE_EMAILS" in refused.json()["message"]
    assert download(platform, event_id, "registrants", token=None).status_code == 401
    assert download(platform, event_id, "registrants", token="someone-else").status_code == 403
    assert download(platform, event_id, "everyone").status_code == 404
    assert download(platform, "no-such-event", "registrants").status_code == 404
    assert download(platform, event_id, "registrants", format="pdf").status_code == 422
    assert download(platform, event_id, "waiting-list", names="true").status_code == 422
