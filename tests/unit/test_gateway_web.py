"""The gateway's web layer on its own (no service answers these requests): languages, security
headers, CSRF, error pages and rate limits, through Flask's test client."""

import re

import pytest

from gateway.app import create_app
from shared.settings import Settings
from tests.conftest import CALLER_SIGNING_KEY

UNREACHABLE_BROKER = "pyamqp://guest:guest@127.0.0.1:1//"


@pytest.fixture
def client():
    settings = Settings.from_env(
        {
            "GATEWAY_SECRET_KEY": "test-secret",
            "CALLER_SIGNING_KEY": CALLER_SIGNING_KEY,
            "AMQP_URI": UNREACHABLE_BROKER,
            "RPC_TIMEOUT": "1",
            "REGISTRATIONS_PER_CLIENT_PER_MINUTE": "1",
            "SIGN_INS_PER_CLIENT_PER_MINUTE": "2",
        }
    )
    return create_app(settings).test_client()


def heading(response) -> str:
    return re.search(r"<h1[^>]*>(.*?)</h1>", response.get_data(as_text=True), re.S).group(1).strip()


def csrf_token(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def test_pages_are_korean_first_and_english_on_request(client):
    assert heading(client.get("/sign-in")) == "로그인"
    english = client.get("/sign-in?lang=en")
    assert heading(english) == "Sign in"
    assert 'lang="en"' in english.get_data(as_text=True)
    # the choice is remembered
    assert heading(client.get("/sign-in")) == "Sign in"


def test_the_browser_language_is_followed_when_nothing_was_chosen(client):
    assert heading(client.get("/privacy", headers={"Accept-Language": "en-GB,en;q=0.8"})) == "Privacy notice"
    assert heading(client.get("/privacy", headers={"Accept-Language": "ko-KR"})) == "개인정보 처리방침"


def test_every_answer_carries_the_security_headers(client):
    for path in ("/sign-in", "/api/v1/tags", "/nowhere"):
        headers = client.get(path).headers
        policy = headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
    assert client.get("/sign-in").headers["Cache-Control"] == "no-store"
    assert "no-store" not in client.get("/api/v1/tags").headers.get("Cache-Control", "")


def test_the_session_cookie_is_http_only_and_same_site(client):
    cookie = client.get("/sign-in").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    # served over plain HTTP here, so not Secure (PUBLIC_BASE_URL decides)
    assert "Secure" not in cookie


def test_a_form_without_its_csrf_token_is_refused_with_a_page(client):
    refused = client.post("/sign-in", data={"email": "someone@example.org"})
    assert refused.status_code == 400
    assert refused.mimetype == "text/html"
    assert heading(refused) == "다시 시도해 주세요"


def test_field_errors_are_shown_next_to_their_field_and_in_a_summary(client):
    token = csrf_token(client.get("/sign-in"))
    answer = client.post("/sign-in", data={"email": "not an address", "csrf_token": token})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert '<a href="#email">올바른 이메일 주소를 입력해 주세요' in page
    assert re.search(r'id="email"[^>]*aria-describedby="email-error"[^>]*aria-invalid="true"', page)
    assert "<title>오류:" in page


def test_pages_errors_are_pages_and_api_errors_are_json(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert heading(page) == "페이지를 찾을 수 없습니다"
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.is_json


def test_the_api_answers_in_the_requested_language_keeping_the_field_structure(client):
    body = {"name": "", "email": "x", "consents": {"privacy": False}}
    english = client.post("/api/v1/attendees", json=body)
    korean = client.post("/api/v1/attendees", json=body, headers={"Accept-Language": "ko"})
    assert english.status_code == korean.status_code == 422
    assert english.json["errors"]["json"]["email"] == ["Not a valid email address."]
    assert set(korean.json["errors"]["json"]) == set(english.json["errors"]["json"])
    assert korean.json["errors"]["json"]["email"] == [
        "올바른 이메일 주소를 입력해 주세요. 예: name@example.com"
    ]
    assert korean.json["errors"]["json"]["attendee_type"] == ["이 항목은 꼭 입력해야 합니다."]
    assert korean.json["errors"]["json"]["consents"]["privacy"] == [
        "개인정보 수집·이용에 동의해야 신청할 수 있습니다."
    ]


def test_registrations_beyond_the_per_client_limit_get_429_with_retry_after(client):
    body = {"name": "A", "email": "a@example.org", "attendee_type": "citizen", "consents": {"privacy": True}}
    first = client.post("/api/v1/attendees", json=body)
    assert first.status_code == 503  # no registration service runs here; the request counted
    refused = client.post("/api/v1/attendees", json=body)
    assert refused.status_code == 429 and refused.is_json
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_sign_in_requests_beyond_the_per_client_limit_get_a_429_page(client):
    token = csrf_token(client.get("/sign-in"))
    answers = [client.post("/sign-in", data={"email": "x", "csrf_token": token}) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [400, 400, 429]
    assert answers[-1].mimetype == "text/html" and int(answers[-1].headers["Retry-After"]) >= 1


def test_the_api_reference_loads_its_files_from_here(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert "cdn" not in page and "<script>" not in page
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert "/static/js/api-docs.js" in page


def test_pages_whose_address_holds_a_token_send_no_referrer(client):
    assert client.get("/sign-in/some-link-token").headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/unsubscribe?token=abc.def").headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ORGANISER_TOKEN", "change-me-organiser-token"),
        ("ORGANISER_TOKEN", "short"),
        ("GATEWAY_SECRET_KEY", "change-me-gateway-secret"),
        ("CALLER_SIGNING_KEY", "change-me-caller-signing-key"),
        ("CALLER_SIGNING_KEY", ""),
    ],
)
def test_the_gateway_refuses_to_start_with_a_placeholder_or_missing_secret(name, value):
    environment = {"GATEWAY_SECRET_KEY": "test-secret", "CALLER_SIGNING_KEY": CALLER_SIGNING_KEY, name: value}
    with pytest.raises(RuntimeError, match=name):
        create_app(Settings.from_env(environment))
