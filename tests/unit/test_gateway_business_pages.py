"""The company and investor pages on their own: Flask's test client, with the services' answers
made up here (``gateway.upstream.call`` replaced), so that what the pages send and show can be
checked exactly: the registration form and its errors, check your answers with one idempotency
key, the confirmation, and the suggestions page (joins, filters, pages, interest and answers)."""

import random
import re
from typing import Any

import pytest
from werkzeug.exceptions import Conflict, NotFound

from gateway import upstream
from gateway.app import create_app
from shared import taxonomy
from shared.settings import Settings
from tests.conftest import CALLER_SIGNING_KEY, unvouched
from tests.unit.programme_views import EXPO, PublicEvents

UNREACHABLE_BROKER = "pyamqp://guest:guest@127.0.0.1:1//"
ME = "owner@example.org"
INVESTOR_ID = "inv-1"
COMPANY_ID = "com-1"


class Services:
    """Answers in place of the services, and a record of every call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.answers: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
        args = tuple(unvouched(arg) for arg in args)
        self.calls.append((service, method, *args))
        answer = self.answers.get((service, method))
        if isinstance(answer, Exception):
            raise answer
        return answer(*args) if callable(answer) else answer

    def made(self, method: str) -> list[tuple]:
        return [call for call in self.calls if call[1] == method]


@pytest.fixture
def services(monkeypatch) -> Services:
    fake = Services()
    programme = PublicEvents(dict(EXPO))
    fake.answers[("registration", "public_events")] = programme.public_events
    fake.answers[("registration", "public_event")] = programme.public_event
    monkeypatch.setattr(upstream, "call", fake)
    return fake


@pytest.fixture
def app():
    settings = Settings.from_env(
        {
            "GATEWAY_SECRET_KEY": "test-secret",
            "CALLER_SIGNING_KEY": CALLER_SIGNING_KEY,
            "AMQP_URI": UNREACHABLE_BROKER,
            "RPC_TIMEOUT": "1",
        }
    )
    app = create_app(settings)
    # the signed-in header links to these; they belong to other parts of the site
    for endpoint, rule in (("account.my_registrations", "/my"), ("organiser.dashboard", "/organiser")):
        if endpoint not in app.view_functions:
            app.add_url_rule(rule, endpoint=endpoint, view_func=lambda: "")
    return app


@pytest.fixture
def client(app, services):
    # (the registration form asks which events take registrations)
    return app.test_client()


def page_text(response) -> str:
    return response.get_data(as_text=True)


def csrf_token(client, path: str = "/register/company") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text(client.get(path))).group(1)


def summary_links(response) -> list[str]:
    summary = re.search(r"data-error-summary>(.*?)</div>", page_text(response), re.S).group(1)
    return re.findall(r'<a href="#([^"]+)">', summary)


def sign_in(client, email: str = ME) -> None:
    with client.session_transaction() as session:
        session["email"] = email
        session["organiser"] = False


COMPANY_FORM = {
    "name": "돌봄로봇",
    "description": "어르신을 위한 돌봄 로봇을 만듭니다.",
    "tags": ["elderly", "robotics"],
    "stage": "seed",
    "contact_name": "김하나",
    "email": "hana@example.org",
    "language": "ko",
    "consents-privacy": "yes",
}


# --- the registration form -------------------------------------------------------------------


def test_only_companies_and_investors_register_here(client):
    assert client.get("/register/company").status_code == 200
    assert client.get("/register/investor").status_code == 200
    assert client.get("/register/organiser").status_code == 404
    assert client.get("/register/companies").status_code == 404


def test_the_tag_picker_has_a_fieldset_per_category_with_every_tag(client):
    page = page_text(client.get("/register/company?lang=en"))
    picker = page[page.index('class="form-group tag-picker"') :]
    legends = re.findall(
        r'<fieldset class="form-group tag-group">\s*<legend class="form-tit">([^<]+)<', picker
    )
    assert legends == ["People the technology is for", "Digital basic rights", "Technologies"]
    boxes = re.findall(r'<input type="checkbox" id="([^"]+)" name="tags" value="([^"]+)"', page)
    assert sorted(value for _, value in boxes) == sorted(taxonomy.MATCHING_TAGS)
    ids = [box_id for box_id, _ in boxes]
    # the first box carries the group's id: the error summary links to it
    assert ids[0] == "tags" and len(set(ids)) == len(ids)
    for box_id, value in boxes:
        assert re.search(rf'<label for="{box_id}">{re.escape(taxonomy.label(value, "en"))}</label>', page)
    # a short help where it helps, tied to its box
    assert 'aria-describedby="tags-communication-item-hint"' in page
    korean = page_text(client.get("/register/company?lang=ko"))
    assert '<label for="tags">어르신</label>' in korean


def test_an_empty_form_says_what_to_enter_field_by_field_in_page_order(client):
    token = csrf_token(client, "/register/company?lang=en")
    answer = client.post("/register/company", data={"csrf_token": token})
    assert answer.status_code == 400
    assert summary_links(answer) == [
        "name",
        "description",
        "tags",
        "stage",
        "contact_name",
        "email",
        "consents-privacy",
    ]
    page = page_text(answer)
    assert "<title>Error:" in page
    assert "Choose at least one tag that describes your company." in page
    assert re.search(r'id="name"[^>]*aria-describedby="name-error"[^>]*aria-invalid="true"', page)
    assert re.search(r'<fieldset class="form-group tag-picker" aria-describedby="tags-hint tags-error"', page)


def test_an_investor_form_keeps_what_was_typed_and_reads_amounts_as_people_write_them(client, services):
    token = csrf_token(client, "/register/investor?lang=en")
    form = {
        "csrf_token": token,
        "name": "이수진",
        "organisation": "서울임팩트파트너스",
        "interests": ["dementia", "vr_ar"],
        "stages": ["seed", "pre_a"],
        "investor_type": "impact",
        "ticket_min_krw": "50,000,000원",
        "ticket_max_krw": "10,000,000",
        "email": "sujin@example.org",
        "language": "en",
    }
    answer = client.post("/register/investor", data=form)
    assert answer.status_code == 400
    assert summary_links(answer) == ["ticket_max_krw", "consents-privacy"]
    page = page_text(answer)
    assert "The largest amount must not be smaller than the smallest amount." in page
    assert 'value="50,000,000원"' in page
    assert re.search(r'id="interests-dementia" name="interests" value="dementia" checked', page)
    assert re.search(r'name="stages" value="pre_a" checked', page)
    form.update({"ticket_max_krw": "₩ 500,000,000", "consents-privacy": "yes"})
    assert client.post("/register/investor", data=form).status_code == 303
    check = page_text(client.get("/register/investor/check"))
    assert "50,000,000 won" in check and "500,000,000 won" in check
    assert "Impact investor" in check
    assert "Dementia, VR / AR" in check


def test_a_website_without_https_is_taken_as_https_and_a_wrong_number_is_explained(client):
    token = csrf_token(client, "/register/company?lang=en")
    form = {**COMPANY_FORM, "csrf_token": token, "website": "care-robot.kr", "business_number": "12345"}
    answer = client.post("/register/company", data=form)
    assert summary_links(answer) == ["business_number"]
    assert "Enter the 10-digit business registration number, such as 123-45-67890." in page_text(answer)
    form["business_number"] = "123-45-67890"
    assert client.post("/register/company", data=form).status_code == 303
    assert "https://care-robot.kr" in page_text(client.get("/register/company/check"))


def test_a_description_too_long_to_keep_in_the_session_is_refused_with_a_reason(client):
    token = csrf_token(client, "/register/company?lang=en")
    rng = random.Random(1)
    noise = "".join(chr(rng.randint(0xAC00, 0xD7A3)) for _ in range(2000))
    answer = client.post(
        "/register/company", data={**COMPANY_FORM, "csrf_token": token, "description": noise}
    )
    assert answer.status_code == 400
    assert summary_links(answer) == ["description"]
    assert client.get("/register/company/check").status_code == 303


# --- check your answers, send once, done -----------------------------------------------------


def registered(kind: str = "company") -> dict:
    return {
        "id": "new-id",
        "kind": kind,
        "reference": "TCX-ABCD-EFGH",
        "email": "hana@example.org",
        "name": "돌봄로봇",
        "manage_token": "secret-token-never-shown",
    }


def test_the_answers_are_sent_once_with_one_key_however_often_they_are_sent(client, services):
    services.answers[("registration", "create")] = lambda *args: registered()
    token = csrf_token(client, "/register/company?lang=en")
    assert client.get("/register/company/check").status_code == 303, "nothing to check yet"
    client.post("/register/company", data={**COMPANY_FORM, "csrf_token": token})
    check = client.get("/register/company/check")
    page = page_text(check)
    assert '<a href="/register/company#tags">Change<span class="sr-only"> tags</span></a>' in page
    client.get("/register/company/check")
    sent = client.post("/register/company/check", data={"csrf_token": token})
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/register/company/done")
    (create,) = services.made("create")
    _, _, kind, data, key = create
    assert kind == "company" and re.fullmatch(r"[0-9a-f-]{36}", key)
    assert data["tags"] == ["elderly", "robotics"] and data["consents"]["privacy"] is True
    assert "stage" in data and "website" not in data
    done = client.get("/register/company/done")
    page = page_text(done)
    assert "TCX-ABCD-EFGH" in page and "secret-token-never-shown" not in page
    assert re.search(r'<h1 tabindex="-1" data-focus>', page)
    assert "next=/my/new-id/suggestions" in page.replace("%2F", "/")
    # sent again (a second click that came late): the same key, the same registration
    with client.session_transaction() as session:
        session["business_company_draft"] = {**session["business_company_draft"], "done": False}
    client.post("/register/company/check", data={"csrf_token": token})
    assert [call[4] for call in services.made("create")] == [key, key]
    # a new form after that is a new registration
    assert 'value="돌봄로봇"' not in page_text(client.get("/register/company"))


def test_changed_answers_are_another_registration_with_another_key(client, services):
    services.answers[("registration", "create")] = Conflict()
    token = csrf_token(client)
    client.post("/register/company", data={**COMPANY_FORM, "csrf_token": token})
    client.get("/register/company/check")
    refused = client.post("/register/company/check", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "이미 등록" in page_text(refused), page_text(refused)
    client.post("/register/company", data={**COMPANY_FORM, "csrf_token": token, "email": "other@example.org"})
    client.get("/register/company/check")
    client.post("/register/company/check", data={"csrf_token": token})
    first, second = (call[4] for call in services.made("create"))
    assert first != second


def test_a_field_the_service_refuses_is_shown_on_the_form(client, services):
    services.answers[("registration", "create")] = _unprocessable({"email": ["Not a valid e-mail domain."]})
    token = csrf_token(client, "/register/company?lang=en")
    client.post("/register/company", data={**COMPANY_FORM, "csrf_token": token})
    answer = client.post("/register/company/check", data={"csrf_token": token})
    assert answer.status_code == 400
    assert summary_links(answer) == ["email"]
    assert 'value="hana@example.org"' in page_text(answer)


def _unprocessable(fields: dict) -> Exception:
    from flask_smorest import abort

    try:
        abort(422, message="Some fields are invalid.", errors={"json": fields})
    except Exception as error:  # noqa: BLE001 - the very exception upstream.call raises
        return error
    raise AssertionError


# --- suggestions -----------------------------------------------------------------------------


def companies(count: int) -> tuple[list[dict], dict]:
    """``count`` suggested companies, best first, and their public profiles."""
    tags = ["elderly", "robotics", "ai", "dementia"]
    items, profiles = [], {}
    for number in range(count):
        company_id = f"c{number:03d}"
        items.append(
            {
                "company_id": company_id,
                "score": 95 - number * 0.9,
                "reasons": [
                    {
                        "kind": "shared_tag",
                        "text": {"ko": "공통 대상: 어르신", "en": "Shared target group: Seniors"},
                    },
                    {"kind": "stage", "text": {"ko": "투자 단계 일치: 시드", "en": "Stage fit: Seed"}},
                ],
                "interest": {1: "pending", 2: "accepted", 3: "declined", 40: "accepted"}.get(number),
            }
        )
        profiles[company_id] = {
            "id": company_id,
            "kind": "company",
            "name": f"Company {number:03d}",
            "description": "Care robots for seniors.",
            "tags": [tags[number % 4], "elderly"] if number % 4 else ["elderly"],
            "stage": "seed" if number % 2 else "series_a",
            "website": "https://example.com",
        }
    return items, profiles


def investor_registration(status: str = "active") -> dict:
    return {
        "id": INVESTOR_ID,
        "kind": "investor",
        "status": status,
        "organisation": "Seoul Impact",
        "name": "이수진",
    }


def company_registration() -> dict:
    return {"id": COMPANY_ID, "kind": "company", "status": "active", "name": "돌봄로봇"}


def as_investor(services, count: int) -> dict:
    items, profiles = companies(count)
    services.answers[("registration", "registrations_of")] = [investor_registration()]
    services.answers[("matching", "suggestions")] = items
    services.answers[("registration", "public_profiles")] = lambda ids, caller: {
        i: profiles[i] for i in ids if i in profiles
    }
    services.answers[("registration", "contact_cards")] = lambda ids, caller: {
        i: {
            "kind": "company",
            "organisation": profiles[i]["name"],
            "contact_person": "김하나",
            "email": f"{i}@example.org",
            "website": "",
        }
        for i in ids
    }
    return profiles


def suggestion_ids(response) -> list[str]:
    return re.findall(r'<li class="structured-item" id="suggestion-([^"]+)"', page_text(response))


def test_a_hundred_suggestions_take_one_call_for_profiles_and_one_for_contact_cards(client, services):
    as_investor(services, 100)
    sign_in(client)
    answer = client.get(f"/my/{INVESTOR_ID}/suggestions?lang=en")
    assert answer.status_code == 200
    assert len(services.made("suggestions")) == 1
    assert len(services.made("public_profiles")) == 1
    (cards,) = services.made("contact_cards")
    assert sorted(cards[2]) == ["c002", "c040"], "only the accepted counterparts' cards"
    acting = {"registration_id": INVESTOR_ID}
    (suggestions,) = services.made("suggestions")
    assert suggestions[2:5] == ("investor", INVESTOR_ID, acting), "the investor, as the gateway vouches"
    assert services.made("public_profiles")[0][3] == acting and cards[3] == acting
    assert suggestion_ids(answer) == [f"c{number:03d}" for number in range(20)]
    page = page_text(answer)
    assert "100 suggestions" in page and "Page 1 of 5" in page
    assert "c040@example.org" in page, "an accepted company's card shows even when it is on another page"
    assert "c001@example.org" not in page, "no card before the company accepts"


def test_suggestions_say_the_fit_in_words_and_the_reasons_in_the_readers_language(client, services):
    as_investor(services, 3)
    sign_in(client)
    english = page_text(client.get(f"/my/{INVESTOR_ID}/suggestions?lang=en"))
    assert "Very good fit: score 95 out of 100" in english
    assert "Shared target group: Seniors" in english
    assert "3 suggestions" in english
    korean = page_text(client.get(f"/my/{INVESTOR_ID}/suggestions?lang=ko"))
    assert "공통 대상: 어르신" in korean and "Shared target group" not in korean


def test_one_suggestion_is_singular(client, services):
    as_investor(services, 1)
    sign_in(client)
    assert ">1 suggestion<" in page_text(client.get(f"/my/{INVESTOR_ID}/suggestions?lang=en"))


def test_no_accepted_interest_means_no_call_for_contact_cards(client, services):
    as_investor(services, 1)
    sign_in(client)
    client.get(f"/my/{INVESTOR_ID}/suggestions")
    assert services.made("contact_cards") == []


def test_filters_by_tag_and_stage_and_pages_keep_them(client, services):
    as_investor(services, 100)
    sign_in(client)
    by_tag = client.get(f"/my/{INVESTOR_ID}/suggestions?lang=en&tag=robotics")
    ids = suggestion_ids(by_tag)
    assert ids and all(int(i[1:]) % 4 == 1 for i in ids)
    assert "25 suggestions match your filters." in page_text(by_tag)
    assert re.search(r'<option value="robotics" selected>Robotics \(25\)</option>', page_text(by_tag))
    both = client.get(f"/my/{INVESTOR_ID}/suggestions?lang=en&tag=robotics&stage=series_a&stage=pre_a")
    assert suggestion_ids(both) == [], "robotics companies are all at seed"
    assert "0 suggestions match your filters." in page_text(both)
    seed = client.get(f"/my/{INVESTOR_ID}/suggestions?stage=seed&page=2")
    assert len(suggestion_ids(seed)) == 20 and "page=1" not in page_text(seed)
    assert re.search(r'href="/my/inv-1/suggestions\?stage=seed&amp;page=3"', page_text(seed))
    last = client.get(f"/my/{INVESTOR_ID}/suggestions?page=99")
    assert suggestion_ids(last)[-1] == "c099", "a page past the end is the last page"
    nonsense = client.get(f"/my/{INVESTOR_ID}/suggestions?tag=nonsense&stage=x&page=two")
    assert nonsense.status_code == 200 and len(suggestion_ids(nonsense)) == 20


def test_suggestions_are_only_for_their_signed_in_company_or_investor(client, services):
    as_investor(services, 1)
    assert "/sign-in" in client.get(f"/my/{INVESTOR_ID}/suggestions").headers["Location"]
    sign_in(client)
    assert client.get("/my/someone-else/suggestions").status_code == 404
    services.answers[("registration", "registrations_of")] = [
        {"id": "att", "kind": "attendee", "status": "active"}
    ]
    assert client.get("/my/att/suggestions").status_code == 404
    assert services.made("suggestions") == []


def test_interest_is_sent_with_csrf_and_the_page_comes_back_as_it_was_with_a_status(client, services):
    as_investor(services, 60)
    sign_in(client)
    page = page_text(client.get(f"/my/{INVESTOR_ID}/suggestions?lang=en&stage=seed&page=2"))
    action = (
        re.search(r'action="(/my/inv-1/suggestions/c\d+/interest[^"]*)"', page).group(1).replace("&amp;", "&")
    )
    assert "stage=seed" in action and "page=2" in action
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post(action).status_code == 400, "no CSRF token, no interest"
    services.answers[("matching", "express_interest")] = {"status": "pending", "created": True}
    sent = client.post(action, data={"csrf_token": token})
    assert sent.status_code == 303
    assert sent.headers["Location"] == "/my/inv-1/suggestions?stage=seed&page=2"
    company_id = re.search(r"/suggestions/(c\d+)/interest", action).group(1)
    acting = {"registration_id": INVESTOR_ID}
    assert services.made("express_interest") == [
        ("matching", "express_interest", INVESTOR_ID, company_id, acting)
    ]
    after = page_text(client.get(sent.headers["Location"]))
    status = '<p class="notice" role="status" tabindex="-1" data-focus>'
    assert f"{status}We told Company {company_id[1:]} that you are interested" in after


def test_interest_in_a_company_gone_meanwhile_is_explained(client, services):
    as_investor(services, 1)
    sign_in(client)
    token = csrf_token(client, f"/my/{INVESTOR_ID}/suggestions?lang=en")
    services.answers[("matching", "express_interest")] = NotFound()
    sent = client.post(f"/my/{INVESTOR_ID}/suggestions/c000/interest", data={"csrf_token": token})
    assert sent.status_code == 303
    assert 'role="alert"' in page_text(client.get(sent.headers["Location"]))


def investors_for_company(services) -> None:
    items = [
        {"investor_id": "i1", "score": 80, "reasons": [], "interest": "pending"},
        {"investor_id": "i2", "score": 60, "reasons": [], "interest": "accepted"},
        {"investor_id": "i3", "score": 40, "reasons": [], "interest": None},
    ]
    services.answers[("registration", "registrations_of")] = [company_registration()]
    services.answers[("matching", "suggestions")] = items
    services.answers[("registration", "public_profiles")] = lambda ids, caller: {
        i: {
            "id": i,
            "kind": "investor",
            "organisation": f"Fund {i}",
            "investor_type": "vc",
            "interests": ["elderly"],
            "stages": ["seed"],
        }
        for i in ids
    }
    services.answers[("registration", "contact_cards")] = lambda ids, caller: {
        i: {
            "kind": "investor",
            "organisation": f"Fund {i}",
            "contact_person": "이수진",
            "email": f"{i}@example.org",
            "website": "",
        }
        for i in ids
    }


def test_a_company_sees_who_is_interested_and_answers(client, services):
    investors_for_company(services)
    sign_in(client)
    page = page_text(client.get(f"/my/{COMPANY_ID}/suggestions?lang=en"))
    assert "1 investor is waiting for your answer." in page
    assert f'action="/my/{COMPANY_ID}/interests/i1"' in page
    assert "/interests/i2" not in page and "/interests/i3" not in page
    assert "i2@example.org" in page and "i1@example.org" not in page
    assert "I am interested" not in page, "companies do not express interest"
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    services.answers[("matching", "answer_interest")] = {"status": "accepted"}
    accepted = client.post(f"/my/{COMPANY_ID}/interests/i1", data={"csrf_token": token, "accept": "yes"})
    assert accepted.status_code == 303
    acting = {"registration_id": COMPANY_ID}
    assert services.made("answer_interest") == [
        ("matching", "answer_interest", COMPANY_ID, "i1", True, acting)
    ]
    assert ("registration", "public_profiles", ["i1"], acting) in services.calls, (
        "the name, as the company sees it"
    )
    assert "You accepted the interest of Fund i1" in page_text(client.get(accepted.headers["Location"]))
    client.post(f"/my/{COMPANY_ID}/interests/i1", data={"csrf_token": token, "accept": "no"})
    assert services.made("answer_interest")[-1][-2] is False
    assert (
        client.post(
            f"/my/{COMPANY_ID}/interests/i1", data={"csrf_token": token, "accept": "maybe"}
        ).status_code
        == 400
    )
    services.answers[("matching", "answer_interest")] = Conflict()
    again = client.post(f"/my/{COMPANY_ID}/interests/i1", data={"csrf_token": token, "accept": "yes"})
    assert "cannot be changed" in page_text(client.get(again.headers["Location"]))


def test_only_the_company_itself_answers_and_only_the_investor_itself_expresses_interest(client, services):
    investors_for_company(services)
    sign_in(client)
    token = csrf_token(client, f"/my/{COMPANY_ID}/suggestions")
    assert (
        client.post(f"/my/{COMPANY_ID}/suggestions/x/interest", data={"csrf_token": token}).status_code == 404
    )
    assert (
        client.post("/my/other/interests/i1", data={"csrf_token": token, "accept": "yes"}).status_code == 404
    )
    assert services.made("answer_interest") == services.made("express_interest") == []
