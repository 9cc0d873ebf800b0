"""The attendee registration pages and a signed-in person's own pages, through Flask's test client,
with the services replaced by a fake that answers as they do (the real services are exercised by
tests/browser)."""

import re
import uuid

import pytest
from flask_smorest import abort

from gateway import upstream
from gateway.app import create_app
from gateway.web import account, attendee
from shared.contracts.registration import MORE_NAMES_THAN_COMPANIONS as MORE_NAMES
from shared.contracts.registration import AccessibilityNeedsSchema, reference_of
from shared.settings import Settings
from tests.conftest import CALLER_SIGNING_KEY, unvouched
from tests.unit.programme_views import EXPO, PublicEvents

UNREACHABLE_BROKER = "pyamqp://guest:guest@127.0.0.1:1//"


class FakeServices:
    """Registration and notification as the pages call them."""

    def __init__(self):
        self.programme = PublicEvents(dict(EXPO))
        self.public_events = self.programme.public_events
        self.public_event = self.programme.public_event
        self.registrations: dict[str, dict] = {}
        self.keys: dict[str, str] = {}
        self.preferences_store: dict[str, str] = {}
        self.calls: list[tuple] = []

    def __call__(self, service, method, *args, **kwargs):
        args = tuple(unvouched(arg) for arg in args)
        self.calls.append((service, method, args))
        return getattr(self, method)(*args, **kwargs)

    def create(self, kind, data, idempotency_key=None):
        if idempotency_key in self.keys:
            return self.registrations[self.keys[idempotency_key]]
        if any(
            r["email"] == data["email"] and r["kind"] == kind and r["status"] == "active"
            for r in self.registrations.values()
        ):
            abort(409, message="Already registered with this e-mail for this expo.")
        registration_id = str(uuid.uuid4())
        consents = data["consents"]
        stored = {
            **data,
            "id": registration_id,
            "kind": kind,
            "status": "active",
            "reference": reference_of(registration_id),
            "created_at": "2026-05-01T06:00:00.000000Z",
            "consents": {"privacy": True, "sensitive": consents.get("sensitive", False)},
        }
        self.registrations[registration_id] = stored
        self.keys[idempotency_key] = registration_id
        return {**stored, "manage_token": "tcx_never_shown"}

    def registrations_of(self, caller):
        email = caller["email"]
        return [r for r in self.registrations.values() if r["email"] == email and r["status"] != "erased"]

    def update(self, kind, registration_id, changes, caller):
        stored = self.registrations[registration_id]
        assert caller == {"email": stored["email"]}
        changes = dict(changes)
        if "consents" in changes:
            stored["consents"] = {**stored["consents"], **changes.pop("consents")}
            if not stored["consents"]["sensitive"]:
                stored.pop("accessibility_needs", None)
        if "accessibility_needs" in changes:
            stored["accessibility_needs"] = {
                **(stored.get("accessibility_needs") or {}),
                **changes.pop("accessibility_needs"),
            }
        named = changes.get("companion_names", stored.get("companion_names") or [])
        if len(named) > changes.get("companions", stored.get("companions") or 0):
            abort(422, message="Some fields are invalid.", errors={"json": {"companion_names": [MORE_NAMES]}})
        for key, value in changes.items():
            if value is None:
                stored.pop(key, None)
            else:
                stored[key] = value
        return stored

    def cancel(self, kind, registration_id, caller):
        self.registrations[registration_id]["status"] = "cancelled"
        self.registrations[registration_id].pop("accessibility_needs", None)
        return self.registrations[registration_id]

    def erase(self, kind, registration_id, caller):
        self.registrations[registration_id] = {
            "id": registration_id,
            "status": "erased",
            "email": None,
            "kind": kind,
        }
        return {"id": registration_id, "status": "erased"}

    def inbox_of(self, recipient_id, caller, limit):
        assert caller == {"registration_id": recipient_id}
        reference = self.registrations[recipient_id].get("reference")
        return [
            {
                "id": "n1",
                "kind": "registration_confirmed",
                "status": "sent",
                "attempts": 1,
                "created_at": "2026-05-01T06:00:01.000000Z",
                "sent_at": "2026-05-01T06:00:02.000000Z",
                "subject": f"Registered {reference}",
                "body": "Hello,\n\nSee https://expo.example.org/my\nBye",
            },
        ]

    def preferences(self, recipient_id, caller):
        assert caller == {"registration_id": recipient_id}
        return {"suggestion_emails": self.preferences_store.get(recipient_id, "hourly")}

    def set_preferences(self, recipient_id, preferences, caller, create=False):
        assert caller == {"registration_id": recipient_id}
        assert create is True
        self.preferences_store[recipient_id] = preferences["suggestion_emails"]
        return preferences


@pytest.fixture
def services(monkeypatch):
    fake = FakeServices()
    monkeypatch.setattr(upstream, "call", fake)
    return fake


@pytest.fixture
def client(services):
    settings = Settings.from_env(
        {
            "GATEWAY_SECRET_KEY": "test-secret",
            "CALLER_SIGNING_KEY": CALLER_SIGNING_KEY,
            "AMQP_URI": UNREACHABLE_BROKER,
            "RPC_TIMEOUT": "1",
            "REGISTRATIONS_PER_CLIENT_PER_MINUTE": "0",
        }
    )
    return create_app(settings).test_client()


def text_of(response) -> str:
    return response.get_data(as_text=True)


def _token(client) -> str:
    page = text_of(client.get("/register/attendee"))
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def summary_links(response) -> list[str]:
    summary = re.search(r"data-error-summary>(.*?)</div>", text_of(response), re.S)
    return re.findall(r'<a href="#([^"]+)">', summary.group(1)) if summary else []


def title(response) -> str:
    return re.search(r"<title>(.*?)</title>", text_of(response), re.S).group(1)


ABOUT = {
    "name": "김하나",
    "email": "hana@example.org",
    "attendee_type": "senior",
    "companions": "1",
    "language": "ko",
    "interests": ["elderly", "ai"],
    "consents-privacy": "yes",
}


def register(client, token, about=ABOUT, needs=("wheelchair_access", "live_captioning"), sensitive=True):
    assert client.post("/register/attendee", data={**about, "csrf_token": token}).status_code == 303
    access = {"csrf_token": token, "accessibility_needs": list(needs)}
    if sensitive:
        access["consents-sensitive"] = "yes"
    assert client.post("/register/attendee/access", data=access).status_code == 303
    client.get("/register/attendee/check")
    return client.post("/register/attendee/check", data={"csrf_token": token})


# --- the attendee journey -------------------------------------------------------------------


def test_an_empty_about_you_form_says_what_to_fill_in_in_page_order(client):
    token = _token(client)
    answer = client.post("/register/attendee?lang=en", data={"csrf_token": token})
    assert answer.status_code == 400
    assert title(answer).startswith("Error: ")
    assert summary_links(answer) == ["name", "email", "attendee_type", "consents-privacy"]
    page = text_of(answer)
    assert "Enter the full name of the person who is coming." in page
    assert re.search(r'id="name"[^>]*aria-invalid="true"', page)


def test_errors_are_korean_on_korean_pages(client):
    answer = client.post("/register/attendee?lang=ko", data={"csrf_token": _token(client)})
    assert title(answer).startswith("오류: ")
    assert "이름" in text_of(answer)


def test_a_carer_registering_for_someone_gives_their_own_name(client, services):
    token = _token(client)
    about = {**ABOUT, "attendee_type": "citizen"}
    answer = client.post("/register/attendee", data={**about, "on_behalf": "yes", "csrf_token": token})
    assert summary_links(answer) == ["carer_name"]
    answer = client.post(
        "/register/attendee", data={**about, "on_behalf": "yes", "carer_name": "박보호", "csrf_token": token}
    )
    assert answer.status_code == 303
    client.post("/register/attendee/access", data={"csrf_token": token})
    client.get("/register/attendee/check")
    client.post("/register/attendee/check", data={"csrf_token": token})
    sent = [args for _, method, args in services.calls if method == "create"][0][1]
    assert sent["carer_name"] == "박보호" and sent["name"] == "김하나"
    assert "accessibility_needs" not in sent and sent["consents"] == {"privacy": True, "sensitive": False}


def test_needs_without_the_sensitive_consent_are_an_error_on_the_consent(client):
    token = _token(client)
    client.post("/register/attendee", data={**ABOUT, "attendee_type": "citizen", "csrf_token": token})
    answer = client.post(
        "/register/attendee/access", data={"csrf_token": token, "accessibility_needs": ["guide_dog"]}
    )
    assert answer.status_code == 400
    assert summary_links(answer) == ["consents-sensitive"]
    # no need at all needs no consent
    assert client.post("/register/attendee/access", data={"csrf_token": token}).status_code == 303


def test_the_whole_journey_sends_one_registration_with_its_key_and_never_shows_the_token(client, services):
    token = _token(client)
    sent = register(client, token)
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/register/attendee/done")
    done = client.get("/register/attendee/done")
    registration = next(iter(services.registrations.values()))
    assert registration["reference"] in text_of(done)
    assert "tcx_never_shown" not in text_of(done)
    assert "data-focus" in text_of(done)
    create = [args for _, method, args in services.calls if method == "create"]
    kind, data, key = create[0]
    assert kind == "attendee" and uuid.UUID(key)
    assert data["accessibility_needs"]["wheelchair_access"] and data["accessibility_needs"]["live_captioning"]
    assert data["consents"] == {"privacy": True, "sensitive": True}
    assert data["companions"] == 1 and data["interests"] == ["elderly", "ai"]


def test_companions_may_be_named_as_the_person_registers(client, services):
    token = _token(client)
    about = {**ABOUT, "companions": "2", "companion_names": "이보호\n\n  김친구  \n"}
    register(client, token, about=about)
    (create,) = [args for _, method, args in services.calls if method == "create"]
    assert create[1]["companion_names"] == ["이보호", "김친구"]
    token = _token(client)
    client.get("/register/attendee")
    too_many = client.post(
        "/register/attendee",
        data={**ABOUT, "companions": "1", "companion_names": "가\n나", "csrf_token": token},
    )
    assert too_many.status_code == 400 and summary_links(too_many) == ["companion_names"]


def test_sending_twice_answers_the_same_registration(client, services):
    token = _token(client)
    register(client, token)
    again = client.post("/register/attendee/check", data={"csrf_token": token})
    assert again.status_code == 303
    keys = {args[2] for _, method, args in services.calls if method == "create"}
    assert len(keys) == 1 and len(services.registrations) == 1
    # the check page, seen again, says it was sent
    assert "TCX-" in text_of(client.get("/register/attendee/check"))


def test_an_address_already_registered_gets_a_page_that_says_to_sign_in(client):
    token = _token(client)
    register(client, token)
    # a new draft, the same address
    client.get("/register/attendee")
    answer = register(client, token)
    assert answer.status_code == 409
    page = text_of(answer)
    assert 'href="/sign-in"' in page


def test_steps_cannot_be_skipped(client):
    assert client.get("/register/attendee/access").headers["Location"].endswith("/register/attendee")
    assert client.get("/register/attendee/check").headers["Location"].endswith("/register/attendee")
    assert client.get("/register/attendee/done").headers["Location"].endswith("/register/attendee")


def test_a_visitor_type_that_tells_of_a_disability_or_care_needs_the_sensitive_consent(client, services):
    token = _token(client)
    client.post(
        "/register/attendee?lang=en",
        data={**ABOUT, "attendee_type": "person_with_disability", "csrf_token": token},
    )
    access = client.get("/register/attendee/access?lang=en")
    assert "You told us that you come as: Person with a disability" in text_of(access)
    refused = client.post("/register/attendee/access?lang=en", data={"csrf_token": token})
    assert refused.status_code == 400 and summary_links(refused) == ["consents-sensitive"]
    assert "keep your visitor type" in text_of(refused)
    assert (
        client.post(
            "/register/attendee/access", data={"csrf_token": token, "consents-sensitive": "yes"}
        ).status_code
        == 303
    )
    client.get("/register/attendee/check")
    client.post("/register/attendee/check", data={"csrf_token": token})
    sent = [args for _, method, args in services.calls if method == "create"][0][1]
    assert sent["attendee_type"] == "person_with_disability" and "accessibility_needs" not in sent
    assert sent["consents"] == {"privacy": True, "sensitive": True}


def test_change_links_come_back_to_the_check_page(client):
    token = _token(client)
    client.post("/register/attendee", data={**ABOUT, "csrf_token": token})
    client.post("/register/attendee/access", data={"csrf_token": token, "consents-sensitive": "yes"})
    check = text_of(client.get("/register/attendee/check"))
    assert 'href="/register/attendee?back=check#name"' in check
    changed = client.post(
        "/register/attendee?back=check", data={**ABOUT, "name": "김두리", "csrf_token": token}
    )
    assert changed.headers["Location"].endswith("/register/attendee/check")
    assert "김두리" in text_of(client.get("/register/attendee/check"))


def test_easy_read_is_remembered_and_can_be_left(client):
    standard = text_of(client.get("/register/attendee?lang=en"))
    easy = text_of(client.get("/register/attendee?easy=1"))
    assert "Who are you?" in easy and "Who are you?" not in standard
    assert "Who are you?" in text_of(client.get("/register/attendee"))
    assert "Who are you?" not in text_of(client.get("/register/attendee?easy=0"))


def test_every_need_the_api_knows_is_offered():
    assert set(attendee.NEEDS) | {"other"} == set(AccessibilityNeedsSchema().fields)
    assert set(attendee.NEED_LABELS) == set(attendee.NEEDS)


# --- a signed-in person's pages -------------------------------------------------------------


def sign_in_as(client, email):
    with client.session_transaction() as session:
        session["email"] = email


def registered(client, token, services):
    register(client, token)
    sign_in_as(client, ABOUT["email"])
    return next(iter(services.registrations.values()))


def test_my_pages_need_sign_in(client):
    answer = client.get("/my")
    assert answer.status_code == 302 and "/sign-in" in answer.headers["Location"]


def test_my_registrations_and_one_registration_with_its_needs(client, services):
    registration = registered(client, _token(client), services)
    listing = text_of(client.get("/my?lang=en"))
    assert registration["reference"] in listing
    view = text_of(client.get(f"/my/{registration['id']}"))
    assert "Wheelchair access, Live captions" in view
    assert f"/my/{registration['id']}/access" in view


def test_a_change_sends_only_what_changed(client, services):
    token = _token(client)
    registration = registered(client, token, services)
    answer = client.post(
        f"/my/{registration['id']}/change",
        data={
            "csrf_token": token,
            "name": "김하나",
            "language": "en",
            "attendee_type": "senior",
            "companions": "1",
            "interests": ["ai", "elderly"],
        },
    )
    assert answer.status_code == 303
    update = [args for _, method, args in services.calls if method == "update"]
    assert update == [("attendee", registration["id"], {"language": "en"}, {"email": ABOUT["email"]})]


def test_companions_are_named_one_a_line_and_renamed_without_registering_again(client, services):
    token = _token(client)
    registration = registered(client, token, services)
    form = {
        "csrf_token": token,
        "name": registration["name"],
        "language": registration["language"],
        "attendee_type": registration["attendee_type"],
        "companions": "1",
        "interests": registration["interests"],
    }
    page = text_of(client.get(f"/my/{registration['id']}/change?lang=en"))
    assert 'id="companion_names"' in page and "One name a line" in page
    answer = client.post(f"/my/{registration['id']}/change", data={**form, "companion_names": " 이민호 \n\n"})
    assert answer.status_code == 303
    updates = [args[2] for _, method, args in services.calls if method == "update"]
    assert updates == [{"companion_names": ["이민호"]}], "only the names, as a list"
    view = text_of(client.get(f"/my/{registration['id']}?lang=en"))
    assert "Companions&#39; names" in view and "이민호" in view
    renamed = client.post(f"/my/{registration['id']}/change", data={**form, "companion_names": "최유나"})
    assert renamed.status_code == 303
    assert [args[2] for _, method, args in services.calls if method == "update"][-1] == {
        "companion_names": ["최유나"]
    }
    # more names than companions: the service refuses, and the page says so next to the field
    refused = client.post(
        f"/my/{registration['id']}/change?lang=en", data={**form, "companion_names": "최유나\n김하늘"}
    )
    assert refused.status_code == 400 and summary_links(refused) == ["companion_names"]
    assert "Name at most as many companions as come along" in text_of(refused)
    assert registration["companion_names"] == ["최유나"]


def test_a_carers_registration_says_the_address_is_the_carers(client, services):
    registration = registered(client, _token(client), services)
    registration["carer_name"] = "박보호"
    view = text_of(client.get(f"/my/{registration['id']}?lang=en"))
    assert "The carer&#39;s e-mail address (every e-mail goes here)" in view and "박보호" in view


def test_changing_one_need_sends_only_that_need(client, services):
    token = _token(client)
    registration = registered(client, token, services)
    answer = client.post(
        f"/my/{registration['id']}/access",
        data={"csrf_token": token, "accessibility_needs": ["wheelchair_access"], "consents-sensitive": "yes"},
    )
    assert answer.status_code == 303
    update = [args for _, method, args in services.calls if method == "update"][0]
    assert update[2] == {"accessibility_needs": {"live_captioning": False}, "consents": {"sensitive": True}}


def test_withdrawing_the_consent_sends_only_the_withdrawal(client, services):
    stored = {"wheelchair_access": True}
    assert account.needs_changes(stored, True, {"wheelchair_access": False, "other": ""}, False) == {
        "consents": {"sensitive": False}
    }
    assert account.needs_changes(stored, True, {"wheelchair_access": True, "other": ""}, True) == {}


def test_erasing_needs_the_box_ticked_and_signs_out_when_nothing_is_left(client, services):
    token = _token(client)
    registration = registered(client, token, services)
    refused = client.post(f"/my/{registration['id']}/erase", data={"csrf_token": token})
    assert refused.status_code == 400 and summary_links(refused) == ["confirm"]
    erased = client.post(f"/my/{registration['id']}/erase", data={"csrf_token": token, "confirm": "yes"})
    assert erased.headers["Location"].endswith("/my/erased")
    assert client.get("/my").status_code == 302, "signed out"


def test_inbox_and_preferences(client, services):
    token = _token(client)
    registration = registered(client, token, services)
    inbox = text_of(client.get("/my/inbox"))
    assert f"Registered {registration['reference']}" in inbox
    assert '<a href="https://expo.example.org/my"' in inbox
    company_id = str(uuid.uuid4())
    services.registrations[company_id] = {
        "id": company_id,
        "kind": "company",
        "status": "active",
        "email": ABOUT["email"],
        "name": "Barrier Free",
        "reference": reference_of(company_id),
        "language": "ko",
        "consents": {"privacy": True},
    }
    page = text_of(client.get("/my/preferences"))
    assert f'name="suggestion_emails-{company_id}" value="hourly" checked' in page
    saved = client.post(
        "/my/preferences", data={"csrf_token": token, f"suggestion_emails-{company_id}": "daily"}
    )
    assert saved.status_code == 303
    assert services.preferences_store[company_id] == "daily"
