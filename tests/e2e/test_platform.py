"""End to end over HTTP: every service a real process, e-mail at a real SMTP server."""

import os
import signal
import time
import uuid

import pytest

from tests.conftest import received_mail, wait_for
from tests.platform import ORGANISER_TOKEN

pytestmark = pytest.mark.e2e


def unique_email(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}@example.kr"


def company_body(**overrides):
    return {
        "name": "Dasom Care",
        "email": unique_email("company"),
        "consents": {"privacy": True},
        "description": "VR programmes that help prevent early dementia",
        "tags": ["치매", "VR", "health_safety"],
        "stage": "seed",
        "language": "ko",
        **overrides,
    }


def investor_body(**overrides):
    return {
        "name": "Sujin Lee",
        "organisation": "Seoul Impact Partners",
        "email": unique_email("investor"),
        "consents": {"privacy": True},
        "interests": ["dementia", "vr_ar", "elderly"],
        "stages": ["seed", "pre_a"],
        "investor_type": "impact",
        "language": "en",
        **overrides,
    }


def mail_to(platform, address):
    return [m for m in received_mail(platform.var / "mail") if address in m["To"]]


def sent_notifications(platform, token, count):
    def sent():
        items = platform.call("GET", "/api/v1/notifications", token).json()["items"]
        done = [item for item in items if item["status"] == "sent"]
        return done if len(done) >= count else None

    return wait_for(sent, 20, message=f"{count} sent notification(s)")


def test_the_loop_registration_suggestion_interest_and_answer(platform):
    company = platform.call("POST", "/api/v1/companies", json=company_body())
    assert company.status_code == 201, company.text
    company = company.json()
    started = time.monotonic()
    investor = platform.call("POST", "/api/v1/investors", json=investor_body())
    assert investor.status_code == 201, investor.text
    investor = investor.json()

    def matched():
        items = platform.call(
            "GET", f"/api/v1/investors/{investor['id']}/matches", investor["manage_token"]
        ).json()["items"]
        return items or None

    items = wait_for(matched, 5, interval=0.02, message="the investor's matches")
    to_suggestion = time.monotonic() - started
    (item,) = [i for i in items if i["company_id"] == company["id"]]
    assert 0 < item["score"] <= 100 and item["company"]["name"] == "Dasom Care"
    assert {r["tag"] for r in item["reasons"] if r["kind"] == "shared_tag"} == {"dementia", "vr_ar"}
    assert any(r["kind"] == "stage" and r["fit"] == "exact" for r in item["reasons"])

    print(f"\nregistration -> suggestion listed: {to_suggestion * 1000:.0f} ms")
    # the confirmation at once; the digest of the suggestions a digest window after it
    wait_for(lambda: len(mail_to(platform, investor["email"])) == 1, 5, message="the confirmation")
    kinds = {n["kind"] for n in sent_notifications(platform, investor["manage_token"], 2)}
    assert kinds == {"registration_confirmed", "suggestions_digest"}
    subjects = sorted(m["Subject"] for m in mail_to(platform, investor["email"]))
    assert any("confirmed" in s for s in subjects) and any("suggestion" in s for s in subjects)

    company_matches = platform.call(
        "GET", f"/api/v1/companies/{company['id']}/matches", company["manage_token"]
    )
    assert company_matches.json()["items"][0]["investor"]["organisation"] == "Seoul Impact Partners"
    assert "email" not in str(company_matches.json())
    investor_matches = f"/api/v1/investors/{investor['id']}/matches"
    listed = platform.call("GET", investor_matches, investor["manage_token"]).json()["items"]
    best = platform.call("GET", f"{investor_matches}?limit=1", investor["manage_token"])
    assert best.status_code == 200 and best.json()["items"] == listed[:1]
    for limit in (0, 201, "many"):
        refused = platform.call("GET", f"{investor_matches}?limit={limit}", investor["manage_token"])
        assert refused.status_code == 422 and "limit" in refused.text

    interest = platform.call(
        "POST",
        f"/api/v1/investors/{investor['id']}/matches/{company['id']}/interest",
        investor["manage_token"],
    )
    assert interest.status_code == 201 and interest.json()["status"] == "pending"
    again = platform.call(
        "POST",
        f"/api/v1/investors/{investor['id']}/matches/{company['id']}/interest",
        investor["manage_token"],
    )
    assert again.status_code == 200
    company_kinds = {n["kind"] for n in sent_notifications(platform, company["manage_token"], 3)}
    assert "interest_received" in company_kinds
    wait_for(
        lambda: any("관심" in m["Subject"] for m in mail_to(platform, company["email"])),
        5,
        message="the interest e-mail, in Korean",
    )

    answer = platform.call(
        "POST",
        f"/api/v1/companies/{company['id']}/matches/{investor['id']}/response",
        company["manage_token"],
        json={"accept": True},
    )
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    assert "interest_answered" in {
        n["kind"] for n in sent_notifications(platform, investor["manage_token"], 3)
    }


def test_registrant_can_view_change_cancel_and_erase(platform):
    created = platform.call(
        "POST",
        "/api/v1/attendees",
        json={
            "name": "김영희",
            "email": unique_email("attendee"),
            "attendee_type": "senior",
            "consents": {"privacy": True, "sensitive": True},
            "companions": 1,
            "accessibility_needs": {"wheelchair_access": True, "sign_language_interpreter": True},
        },
    ).json()
    path, token = f"/api/v1/attendees/{created['id']}", created["manage_token"]
    assert platform.call("GET", path, token).json()["accessibility_needs"]["wheelchair_access"] is True
    changed = platform.call("PATCH", path, token, json={"language": "en", "interests": ["이동"]})
    assert changed.status_code == 200 and changed.json()["interests"] == ["mobility"]
    # a change of one need keeps the others
    one_need = platform.call("PATCH", path, token, json={"accessibility_needs": {"live_captioning": True}})
    needs = one_need.json()["accessibility_needs"]
    assert needs["live_captioning"] and needs["wheelchair_access"] and needs["sign_language_interpreter"]
    summary = platform.call("GET", "/api/v1/organiser/summary", ORGANISER_TOKEN).json()
    assert summary["accessibility_needs"]["wheelchair_access"] >= 1
    cancelled = platform.call("DELETE", path, token)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert "accessibility_needs" not in cancelled.json()
    erased = platform.call("DELETE", path + "?erase=true", token)
    assert erased.json() == {"id": created["id"], "status": "erased"}
    assert platform.call("GET", path, token).status_code == 403
    assert platform.call("GET", path, ORGANISER_TOKEN).status_code == 404


def test_a_registration_sent_twice_with_one_idempotency_key_is_made_once(platform):
    body, key = company_body(), {"Idempotency-Key": str(uuid.uuid4())}
    first = platform.call("POST", "/api/v1/companies", json=body, headers=key)
    again = platform.call("POST", "/api/v1/companies", json=body, headers=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and "manage_token" not in again.json()
    assert platform.call("POST", "/api/v1/companies", json=body).status_code == 409


def test_every_refusal_in_the_contract(platform):
    body = company_body()
    first = platform.call("POST", "/api/v1/companies", json=body).json()
    duplicate = platform.call("POST", "/api/v1/companies", json={**body, "name": "Other"})
    assert duplicate.status_code == 409 and duplicate.json()["message"]
    path = f"/api/v1/companies/{first['id']}"
    assert platform.call("GET", path).status_code == 401
    assert platform.call("GET", path, headers={"Authorization": "Basic abc"}).status_code == 401
    other = platform.call("POST", "/api/v1/companies", json=company_body()).json()
    assert platform.call("GET", path, other["manage_token"]).status_code == 403
    assert platform.call("GET", path, "tcx_made_up").status_code == 403
    assert (
        platform.call("GET", f"/api/v1/investors/{first['id']}/matches", first["manage_token"]).status_code
        == 403
    )
    assert platform.call("GET", "/api/v1/companies/no-such-id", ORGANISER_TOKEN).status_code == 404
    assert platform.call("GET", path, ORGANISER_TOKEN).status_code == 200
    assert platform.call("GET", "/api/v1/organiser/summary", first["manage_token"]).status_code == 403
    assert platform.call("GET", "/api/v1/notifications", "tcx_made_up").status_code == 401

    malformed = platform.call(
        "POST", "/api/v1/companies", data=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and malformed.json()["message"]
    injected = platform.call(
        "POST",
        "/api/v1/companies",
        json={**company_body(), "name": {"$ne": None}, "email": {"$gt": ""}, "$where": "1"},
    )
    assert injected.status_code == 422
    assert set(injected.json()["errors"]["json"]) == {"name", "email", "$where"}
    invalid = platform.call("POST", "/api/v1/investors", json=investor_body(stages=[], interests=["unknown"]))
    assert invalid.status_code == 422 and set(invalid.json()["errors"]["json"]) == {"stages", "interests"}
    no_consent = platform.call(
        "POST",
        "/api/v1/attendees",
        json={
            "name": "A",
            "email": unique_email("a"),
            "attendee_type": "citizen",
            "consents": {"privacy": False},
        },
    )
    assert no_consent.status_code == 422
    # the gateway answers 413 without reading the body, and may then close the connection
    oversized = platform.call(
        "POST",
        "/api/v1/companies",
        data="x" * 70_000,
        headers={"Content-Type": "application/json", "Connection": "close"},
    )
    assert oversized.status_code == 413
    assert (
        platform.call(
            "POST", "/api/v1/companies", data="{}", headers={"Content-Type": "text/plain"}
        ).status_code
        == 415
    )
    response = platform.call(
        "POST",
        f"/api/v1/companies/{first['id']}/matches/nobody/response",
        first["manage_token"],
        json={"accept": "yes"},
    )
    assert response.status_code == 422
    summary = platform.call("GET", "/api/v1/organiser/summary", ORGANISER_TOKEN).json()
    assert summary["registrations"]["company"]["active"] >= 2


def test_openapi_docs_tags_probes_and_home_page(platform):
    spec = platform.call("GET", "/api/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/api/v1/companies" in spec["paths"]
    assert {"Company", "Investor", "Attendee"} <= set(spec["components"]["schemas"])
    assert platform.call("GET", "/api/docs").status_code == 200
    tags = platform.call("GET", "/api/v1/tags").json()
    assert any(tag["ko"] == "어르신" for c in tags["categories"] for tag in c["tags"])
    assert platform.call("GET", "/healthz").json() == {"status": "ok"}
    assert platform.call("GET", "/readyz").json()["status"] == "ready"
    assert "기술동행" in platform.call("GET", "/").text


def test_a_killed_service_is_restarted_by_the_runner_and_nothing_is_lost(platform):
    (pid,) = platform.children("matching.service")
    os.kill(pid, signal.SIGKILL)
    company = platform.call("POST", "/api/v1/companies", json=company_body(tags=["multicultural"])).json()
    investor = platform.call(
        "POST", "/api/v1/investors", json=investor_body(interests=["multicultural"])
    ).json()
    assert wait_for(
        lambda: platform.children("matching.service") not in ([], [pid]), 15, message="a new matching process"
    )
    items = wait_for(
        lambda: platform.call(
            "GET", f"/api/v1/investors/{investor['id']}/matches", investor["manage_token"]
        ).json()["items"],
        30,
        message="the match made after the restart",
    )
    assert items[0]["company_id"] == company["id"]


def test_organisers_reach_dead_letters_over_http(platform):
    from kombu import Connection, Producer

    from shared.messaging import EVENTS_EXCHANGE

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

    def parked():
        items = platform.call("GET", "/api/v1/organiser/dead-letters", ORGANISER_TOKEN).json()["items"]
        return [item for item in items if item["id"] == poison["event_id"]]

    (letter,) = wait_for(parked, 10, message="the poison message to be parked")
    assert letter["service"] == "notification" and "bad payload" in letter["reason"]
    path = f"/api/v1/organiser/dead-letters/notification/{poison['event_id']}"
    assert platform.call("GET", path, ORGANISER_TOKEN).json()["body"] == poison
    assert platform.call("GET", path, "tcx_registrant").status_code == 403
    assert platform.call("GET", "/api/v1/organiser/dead-letters/nosuch/x", ORGANISER_TOKEN).status_code == 404
    replayed = platform.call("POST", path + "/replay", ORGANISER_TOKEN)
    assert replayed.status_code == 200 and replayed.json()["replays"] == 1
    # still poison: it is parked again, not lost and not looping
    wait_for(
        lambda: (p := parked()) and p[0]["status"] == "parked" and p[0]["replays"] == 1,
        10,
        message="the replayed poison parked again",
    )
    summary = platform.call("GET", "/api/v1/organiser/summary", ORGANISER_TOKEN).json()
    assert summary["dead_letters"]["notification"] >= 1


def test_churning_tags_is_refused_with_429_and_retry_after(platform):
    company = platform.call("POST", "/api/v1/companies", json=company_body()).json()
    path, token = f"/api/v1/companies/{company['id']}", company["manage_token"]
    tag_sets = [["elderly"], ["치매", "VR"]] * 3
    for tags in tag_sets:  # PROFILE_CHANGES_PER_HOUR is 6 by default
        assert platform.call("PATCH", path, token, json={"tags": tags}).status_code == 200
    refused = platform.call("PATCH", path, token, json={"tags": ["elderly"]})
    assert refused.status_code == 429, refused.text
    assert 3000 < int(refused.headers["Retry-After"]) <= 3600
    assert "6 times an hour" in refused.json()["message"]
    # the refused change wrote nothing; other fields still change
    assert platform.call("GET", path, token).json()["tags"] == ["dementia", "vr_ar"]
    assert platform.call("PATCH", path, token, json={"description": "new"}).status_code == 200
