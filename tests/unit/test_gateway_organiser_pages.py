"""The organisers' pages on their own, through Flask's test client, with the services' answers
made up here: who may see them, what the dashboard asks, the list's filters and paging, the CSV
file, and replaying a dead letter."""

import csv
import io
import re
import threading
import time

import pytest
from flask import Flask

from gateway import recent_answers, upstream
from gateway.app import create_app
from gateway.web import organiser
from shared.settings import Settings
from tests.conftest import CALLER_SIGNING_KEY, unvouched

ORGANISER = "organiser@expo.example.org"
REGISTRATION_STATS = {
    "registrations": {
        "attendee": {"active": 3, "cancelled": 1, "erased": 0},
        "company": {"active": 2, "cancelled": 0, "erased": 1},
        "investor": {"active": 1, "cancelled": 0, "erased": 0},
    },
    "accessibility_needs": {"wheelchair_access": 2, "sign_language_interpreter": 1},
    "companions": {"attendees_with_companions": 2, "companions": 5},
    "outbox_pending": 0,
}
MATCHING_STATS = {
    "active_companies": 2,
    "active_investors": 1,
    "suggestions": 7,
    "interests": 1,
    "dead_letters": 4,
    "outbox_pending": 0,
}
NOTIFICATION_STATS = {
    "notifications": {"queued": 1, "sending": 0, "sent": 9, "failed": 0, "skipped": 2},
    "dead_letters": 0,
}
QUEUES = {
    "matching.events": {"messages": 0, "consumers": 1},
    "notification.events": {"messages": 12, "consumers": 2},
    "notification.sign_in": {"messages": 0, "consumers": 2},
    "notification.matches": {"messages": 3, "consumers": 0},
}


def row(number: int, **fields) -> dict:
    return {
        "id": f"id-{number}",
        "reference": f"TCX-AAAA-{number:04d}",
        "kind": "attendee",
        "status": "active",
        "name": f"김민수 {number}",
        "email": f"person{number}@example.org",
        "organisation": None,
        "attendee_type": "citizen",
        "language": "ko",
        "companions": 0,
        "carer_name": None,
        "has_accessibility_needs": False,
        "email_verified_at": None,
        "created_at": "2026-03-01T01:02:03.000000Z",
        **fields,
    }


class Services:
    """The answers of the services, and the calls made."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.answers = {
            ("registration", "stats"): REGISTRATION_STATS,
            ("matching", "stats"): MATCHING_STATS,
            ("notification", "stats"): NOTIFICATION_STATS,
            # the registrations' filter by event
            ("registration", "list_events"): [],
        }
        self.failing: set[str] = set()

    def call(self, service: str, method: str, *args, **kwargs):
        args = tuple(unvouched(arg) for arg in args)
        self.calls.append((service, method, *args))
        if service in self.failing:
            upstream.abort(503, message="down")
        answer = self.answers.get((service, method))
        return answer(*args) if callable(answer) else answer


@pytest.fixture
def services(monkeypatch) -> Services:
    made_up = Services()
    monkeypatch.setattr(upstream, "call", made_up.call)
    monkeypatch.setattr(organiser, "queue_depths", lambda amqp_uri: QUEUES)
    return made_up


@pytest.fixture
def client(services):
    settings = Settings.from_env(
        {
            "GATEWAY_SECRET_KEY": "test-secret",
            "CALLER_SIGNING_KEY": CALLER_SIGNING_KEY,
            "AMQP_URI": "pyamqp://guest:guest@127.0.0.1:1//",
            "RPC_TIMEOUT": "1",
        }
    )
    app = create_app(settings)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


def sign_in(client, organiser: bool = True, email: str = ORGANISER) -> None:
    with client.session_transaction() as session:
        session.update(email=email, organiser=organiser)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_not_signed_in_is_sent_to_sign_in_and_a_registrant_is_refused(client):
    for path in (
        "/organiser",
        "/organiser/registrations?q=kim",
        "/organiser/registrations.csv",
        "/organiser/audit",
    ):
        answer = client.get(path)
        assert answer.status_code == 302 and "/sign-in?next=" in answer.headers["Location"], path
    sign_in(client, organiser=False, email="someone@example.org")
    for path in ("/organiser", "/organiser/registrations", "/organiser/dead-letters"):
        assert client.get(path).status_code == 403
    assert client.post("/organiser/dead-letters/matching/x/replay").status_code == 403


def test_the_dashboard_asks_each_service_once_and_shows_every_count(client, services):
    sign_in(client)
    answer = client.get("/organiser?lang=en")
    page = text(answer)
    assert answer.status_code == 200
    assert sorted(call[:2] for call in services.calls) == [
        ("matching", "stats"),
        ("notification", "stats"),
        ("registration", "list_events"),
        ("registration", "stats"),
    ]
    assert "<caption>Registrations by kind and status</caption>" in page
    assert re.search(r'<th scope="row">All kinds</th>\s*<td>6</td>\s*<td>1</td>\s*<td>1</td>', page)
    assert re.search(r"Wheelchair spaces[^<]*</th><td>2</td>", page)
    assert re.search(r"Live captioning</th><td>0</td>", page), "a need nobody asked for is 0"
    assert re.search(r"Visitors bringing companions</th><td>2</td>", page)
    assert re.search(r"Companions coming with them</th><td>5</td>", page)
    assert 'href="/organiser/dead-letters#matching">4' in page
    assert "<code>notification.matches</code>" in page and "nobody is reading this queue" in page


def test_the_dashboard_counts_are_kept_a_few_seconds_and_errors_are_not(client, services):
    sign_in(client)
    services.failing.add("notification")
    client.get("/organiser")
    services.failing.clear()
    client.get("/organiser")
    assert sorted(call[:2] for call in services.calls) == [
        ("matching", "stats"),
        ("notification", "stats"),
        ("notification", "stats"),
        ("registration", "list_events"),
        ("registration", "stats"),
    ], "only the count that failed is asked again"


def test_a_service_that_does_not_answer_leaves_the_rest_of_the_dashboard(client, services):
    services.failing.add("matching")
    sign_in(client)
    answer = client.get("/organiser?lang=en")
    assert answer.status_code == 200
    assert "The Matching service did not answer" in text(answer)
    assert "Registrations by kind and status" in text(answer)


def test_the_list_passes_its_filters_and_pages_with_links_that_keep_them(client, services):
    asked = []

    def listing(query, caller):
        asked.append((query, caller))
        return {"items": [row(n) for n in range(25)], "total": 130, "page": query["page"], "per_page": 25}

    services.answers[("registration", "list_registrations")] = listing
    sign_in(client)
    page = text(client.get("/organiser/registrations?lang=en&q=%EA%B9%80&kind=attendee&status=&page=3"))
    assert asked == [
        (
            {"q": "김", "kind": "attendee", "page": 3, "per_page": 25},
            {"organiser": True, "organiser_email": ORGANISER},
        )
    ]
    assert "130 registrations found" in page
    assert 'aria-current="page">3</a>' in page
    numbers = re.findall(r'class="page-link[^"]*" href="[^"]*page=(\d+)', page)
    assert numbers == ["1", "2", "3", "4", "5", "6"]
    assert "q=%EA%B9%80&amp;kind=attendee&amp;page=2" in page
    assert 'href="/organiser/registrations.csv?q=%EA%B9%80&amp;kind=attendee"' in page


def test_a_filter_that_is_not_valid_is_an_error_next_to_its_field(client, services):
    sign_in(client)
    answer = client.get("/organiser/registrations?lang=en&kind=robot&q=" + "x" * 101)
    assert answer.status_code == 400
    page = text(answer)
    assert 'href="#kind"' in page and 'href="#q"' in page
    assert not [call for call in services.calls if call[1] == "list_registrations"]


def test_page_numbers_keep_the_first_the_last_and_those_near_the_current():
    assert organiser.page_numbers(1, 1) == [1]
    assert organiser.page_numbers(1, 4) == [1, 2, 3, 4]
    assert organiser.page_numbers(1, 10) == [1, 2, 3, None, 10]
    assert organiser.page_numbers(6, 10) == [1, None, 4, 5, 6, 7, 8, 9, 10], "9 rather than a gap of one"
    assert organiser.page_numbers(6, 20) == [1, None, 4, 5, 6, 7, 8, None, 20]
    assert organiser.page_numbers(20, 20) == [1, None, 18, 19, 20]
    assert organiser.page_numbers(4, 10) == [1, 2, 3, 4, 5, 6, None, 10]


def test_the_csv_file_has_a_bom_a_header_korean_names_and_no_formulas(client, services):
    rows = [row(1), row(2, name='=HYPERLINK("http://evil")', kind="company", organisation="@risk")]
    services.answers[("registration", "export_registrations")] = lambda query, caller: rows
    sign_in(client)
    answer = client.get("/organiser/registrations.csv?lang=ko&kind=attendee&page=2")
    assert (
        "registration",
        "export_registrations",
        {"kind": "attendee"},
        {
            "organiser": True,
            "organiser_email": ORGANISER,
        },
    ) in services.calls
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="registrations-')
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0][0] == "신청 번호" and len(table) == 3
    assert table[1][3] == "김민수 1"
    assert table[2][3].startswith("'=") and table[2][5] == "'@risk"
    assert not any("accessibility" in cell.lower() or "접근" in cell for cell in table[0])


def test_replaying_a_dead_letter_redirects_with_what_happened(client, services):
    services.answers[("matching", "replay_dead_letter")] = lambda letter_id, caller: {"id": letter_id}
    services.answers[("matching", "dead_letters")] = lambda caller, limit: []
    services.answers[("notification", "dead_letters")] = lambda caller, limit: []
    sign_in(client)
    answer = client.post("/organiser/dead-letters/matching/event-1/replay?lang=en")
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/organiser/dead-letters")
    organiser = {"organiser": True, "organiser_email": ORGANISER}
    assert ("matching", "replay_dead_letter", "event-1", organiser) in services.calls
    assert "event-1 is back on the queue of Matching" in text(client.get("/organiser/dead-letters?lang=en"))
    assert client.post("/organiser/dead-letters/registration/event-1/replay").status_code == 404


def test_a_replay_of_a_message_replayed_already_says_so(client, services):
    def conflict(letter_id, caller):
        upstream.abort(409, message="replayed already")

    services.answers[("notification", "replay_dead_letter")] = conflict
    services.answers[("matching", "dead_letters")] = lambda caller, limit: []
    services.answers[("notification", "dead_letters")] = lambda caller, limit: []
    sign_in(client)
    assert client.post("/organiser/dead-letters/notification/event-2/replay?lang=en").status_code == 303
    assert "event-2 was replayed already" in text(client.get("/organiser/dead-letters?lang=en"))


def test_the_dashboard_gives_a_stale_answer_at_once_while_it_asks_again():
    recent = recent_answers.RecentAnswers(("registration",), seconds=0.05)
    answers = iter(["first", "second"])
    release = threading.Event()

    def slow_after_the_first() -> str:
        answer = next(answers)
        if answer == "second":
            release.wait(5)
        return answer

    with Flask(__name__).app_context():
        assert recent.get("registration", slow_after_the_first)[1] == "first"
        time.sleep(0.1)
        started = time.monotonic()
        assert recent.get("registration", slow_after_the_first)[1] == "first"  # stale, at once
        assert time.monotonic() - started < 0.5
        release.set()
        deadline = time.monotonic() + 5
        while recent.get("registration", slow_after_the_first)[1] != "second":
            assert time.monotonic() < deadline, "the answer was never asked again"
            time.sleep(0.01)


def test_while_one_request_makes_the_first_reading_the_others_do_not_wait():
    recent = recent_answers.RecentAnswers(("registration",), seconds=10)
    release = threading.Event()

    def slow() -> str:
        release.wait(5)
        return "counts"

    app = Flask(__name__)
    first: list = []

    def read() -> None:
        with app.app_context():
            first.append(recent.get("registration", slow))

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.1)
    with app.app_context():
        with pytest.raises(recent_answers.FirstReadingUnderWay):
            recent.get("registration", slow)
        release.set()
        reader.join(5)
        assert first[0][1] == "counts"
        assert recent.get("registration", slow)[1] == "counts"
