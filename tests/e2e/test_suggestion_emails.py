"""Suggestion e-mails end to end: a digest at the real SMTP sink, its RFC 8058 one-click
unsubscribe link followed over HTTP, and the preference it changed read back."""

import uuid

import pytest

from tests.conftest import received_mail, wait_for
from tests.platform import ORGANISER_TOKEN

pytestmark = pytest.mark.e2e


def unique_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.kr"


def register(platform, collection, body):
    response = platform.call("POST", f"/api/v1/{collection}", json=body)
    assert response.status_code == 201, response.text
    return {**response.json(), "email": body["email"]}


def digests_to(platform, address):
    return [
        message
        for message in received_mail(platform.var / "mail")
        if address in message["To"] and message["List-Unsubscribe"]
    ]


def test_digest_email_carries_a_one_click_unsubscribe_that_turns_only_suggestions_off(platform):
    company = register(
        platform,
        "companies",
        {
            "name": "Dasom Care",
            "email": unique_email("company"),
            "consents": {"privacy": True},
            "description": "VR programmes that help prevent early dementia",
            "tags": ["치매", "VR"],
            "stage": "seed",
            "language": "ko",
        },
    )
    investor = register(
        platform,
        "investors",
        {
            "name": "Sujin Lee",
            "organisation": "Seoul Impact Partners",
            "email": unique_email("investor"),
            "consents": {"privacy": True},
            "interests": ["dementia", "vr_ar"],
            "stages": ["seed"],
            "language": "en",
        },
    )
    token = investor["manage_token"]
    preferences = "/api/v1/notification-preferences"
    assert platform.call("GET", preferences, token).json() == {"suggestion_emails": "hourly"}

    (digest,) = wait_for(lambda: digests_to(platform, investor["email"]), 30, message="the digest e-mail")
    assert "new suggestion" in digest["Subject"] and "Dasom Care" in digest.get_content()
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # a company is never told the investor's name
    (told,) = wait_for(lambda: digests_to(platform, company["email"]), 30, message="the company's digest")
    assert "Sujin Lee" not in told.get_content() and "투자자" in told.get_content()
    kinds = {item["kind"] for item in platform.call("GET", "/api/v1/notifications", token).json()["items"]}
    assert {"registration_confirmed", "suggestions_digest", "suggestion"} <= kinds

    # the header's value may be folded onto a line of its own: clients unfold it
    link = digest["List-Unsubscribe"].strip().removeprefix("<").removesuffix(">")
    assert link.startswith(f"{platform.url}/api/v1/unsubscribe?token=")
    path = link.removeprefix(platform.url)

    # a GET, as a link scanner makes, changes nothing: it leads to a page with a button
    page = platform.call("GET", path)
    assert page.history[0].status_code == 303 and page.url.startswith(f"{platform.url}/unsubscribe?token=")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'method="post"' in page.text and "추천 메일" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert platform.call("GET", preferences, token).json() == {"suggestion_emails": "hourly"}

    # one click, as a mail client sends it (RFC 8058)
    clicked = platform.call(
        "POST",
        path,
        data="List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert clicked.status_code == 200, clicked.text
    assert clicked.json()["suggestion_emails"] == "off"
    assert platform.call("GET", preferences, token).json() == {"suggestion_emails": "off"}
    assert platform.call("POST", path).status_code == 200  # again, with no body: still off
    # nothing else changed: the company's e-mails are still on, the registration still there
    assert platform.call("GET", preferences, company["manage_token"]).json() == {
        "suggestion_emails": "hourly"
    }
    assert platform.call("GET", f"/api/v1/investors/{investor['id']}", token).json()["status"] == "active"

    forged = platform.call("POST", path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))
    assert forged.status_code == 404 and forged.json()["message"]
    garbage = platform.call("POST", "/api/v1/unsubscribe", params={"token": "a b\u00e9"})
    assert garbage.status_code == 400 and garbage.json()["message"]


def test_preferences_are_validated_and_organisers_name_the_recipient(platform):
    investor = register(
        platform,
        "investors",
        {
            "name": "Minho Park",
            "organisation": "Han River Ventures",
            "email": unique_email("investor"),
            "consents": {"privacy": True},
            "interests": ["elderly"],
            "stages": ["seed"],
        },
    )
    token, path = investor["manage_token"], "/api/v1/notification-preferences"
    invalid = platform.call("PUT", path, token, json={"suggestion_emails": "weekly"})
    assert invalid.status_code == 422 and set(invalid.json()["errors"]["json"]) == {"suggestion_emails"}
    unknown = platform.call("PUT", path, token, json={"suggestion_emails": "daily", "other": 1})
    assert unknown.status_code == 422 and "other" in unknown.json()["errors"]["json"]
    changed = platform.call("PUT", path, token, json={"suggestion_emails": "daily"})
    assert changed.status_code == 200 and changed.json() == {"suggestion_emails": "daily"}

    assert platform.call("GET", path).status_code == 401
    assert platform.call("GET", path, ORGANISER_TOKEN).status_code == 422
    by_organiser = platform.call("GET", path, ORGANISER_TOKEN, params={"recipient_id": investor["id"]})
    assert by_organiser.json() == {"suggestion_emails": "daily"}
    set_by_organiser = platform.call(
        "PUT",
        path,
        ORGANISER_TOKEN,
        params={"recipient_id": investor["id"]},
        json={"suggestion_emails": "off"},
    )
    assert set_by_organiser.status_code == 200
    assert platform.call("GET", path, token).json() == {"suggestion_emails": "off"}
