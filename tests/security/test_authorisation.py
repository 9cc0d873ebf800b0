"""Who may act on what, attacked over HTTP: another party's registration (BOLA), fields no one
may set (property-level authorisation), operators where plain values belong, and interest in a
company that was never suggested."""

import uuid

import pytest

from shared import errors
from shared.caller_assertions import vouch
from shared.rpc import RpcClient
from tests.conftest import vouched, wait_for
from tests.platform import ORGANISER_TOKEN

pytestmark = pytest.mark.e2e

COLLECTIONS = {"attendee": "attendees", "company": "companies", "investor": "investors"}


def body(kind: str, **change) -> dict:
    email = f"{kind}-{uuid.uuid4().hex[:10]}@example.kr"
    bodies = {
        "attendee": {
            "name": "김민지",
            "email": email,
            "attendee_type": "citizen",
            "consents": {"privacy": True},
        },
        "company": {
            "name": "Sori AI",
            "email": email,
            "consents": {"privacy": True},
            "description": "Real-time captions for deaf people",
            "tags": ["hearing_impairment", "ai"],
            "stage": "seed",
        },
        "investor": {
            "name": "Sujin Lee",
            "organisation": "Seoul Impact Partners",
            "email": email,
            "consents": {"privacy": True},
            "interests": ["hearing_impairment", "ai"],
            "stages": ["seed"],
        },
    }
    return {**bodies[kind], **change}


def register(platform, kind: str, **change) -> tuple[str, str]:
    answer = platform.call("POST", f"/api/v1/{COLLECTIONS[kind]}", json=body(kind, **change))
    assert answer.status_code == 201, answer.text
    created = answer.json()
    return created["id"], created["manage_token"]


@pytest.mark.parametrize("victim_kind", COLLECTIONS)
@pytest.mark.parametrize("attacker_kind", COLLECTIONS)
def test_bola_one_registrants_token_cannot_read_change_or_cancel_anothers(
    platform, attacker_kind, victim_kind
):
    _, attacker_token = register(platform, attacker_kind)
    victim_id, victim_token = register(platform, victim_kind)
    path = f"/api/v1/{COLLECTIONS[victim_kind]}/{victim_id}"
    assert platform.call("GET", path, attacker_token).status_code == 403
    assert platform.call("PATCH", path, attacker_token, json={"name": "Taken over"}).status_code == 403
    assert platform.call("DELETE", path + "?erase=true", attacker_token).status_code == 403
    assert platform.call("GET", path, victim_token).json()["status"] == "active"


@pytest.mark.parametrize(
    "field",
    [
        {"status": "cancelled"},
        {"kind": "company"},
        {"expo_id": "another-expo"},
        {"event_id": "another-event"},
        {"email_verified_at": "2026-01-01T00:00:00Z"},
        {"reference": "TCX-AAAA-AAAA"},
        {"token_hash": "0" * 64},
        {"id": "someone-else"},
    ],
)
def test_property_level_a_registrant_cannot_set_fields_that_are_not_theirs_to_set(platform, field):
    registration_id, token = register(platform, "attendee")
    path = f"/api/v1/attendees/{registration_id}"
    before = platform.call("GET", path, token).json()
    assert platform.call("PATCH", path, token, json=field).status_code == 422
    assert platform.call("GET", path, token).json() == before


@pytest.mark.parametrize(
    "path",
    [
        '/api/v1/attendees/{"$ne":null}',
        "/api/v1/attendees/%7B%22%24ne%22%3Anull%7D",
        "/api/v1/attendees/$where",
        "/api/v1/investors/x/matches?limit[$gt]=0",
    ],
)
def test_operator_injection_in_paths_and_queries_finds_nothing_and_breaks_nothing(platform, path):
    for token in (None, ORGANISER_TOKEN):
        answer = platform.call("GET", path, token)
        # an organiser may list any investor's matches: of no such investor, there are none
        assert answer.status_code in (401, 403, 404) or (
            answer.status_code == 200 and answer.json()["items"] == []
        )


def test_an_investor_cannot_express_interest_in_a_company_never_suggested_to_it(platform):
    unrelated_company, _ = register(
        platform, "company", tags=["low_income", "robotics"], description="Budgeting help for families"
    )
    suggested_company, _ = register(platform, "company")
    investor_id, investor_token = register(platform, "investor")
    matches = f"/api/v1/investors/{investor_id}/matches"
    wait_for(
        lambda: (
            suggested_company
            in {item["company_id"] for item in platform.call("GET", matches, investor_token).json()["items"]}
        ),
        30,
        interval=0.3,
        message="the suggestion",
    )
    interest = f"/api/v1/investors/{investor_id}/matches/{{}}/interest"
    assert platform.call("POST", interest.format(unrelated_company), investor_token).status_code == 404
    assert platform.call("POST", interest.format(suggested_company), investor_token).status_code == 201


def test_broker_trust_a_raw_amqp_client_cannot_call_registration_as_an_organiser_or_as_someone(platform):
    registration_id, _ = register(
        platform,
        "attendee",
        attendee_type="person_with_disability",
        consents={"privacy": True, "sensitive": True},
        accessibility_needs={"wheelchair_access": True},
    )
    email = platform.call("GET", f"/api/v1/attendees/{registration_id}", ORGANISER_TOKEN).json()["email"]
    forged = vouch({"organiser": True}, "a key that is not the gateway's")
    client = RpcClient(platform.amqp_uri, timeout=10)
    try:
        for caller in ({"organiser": True}, forged, "not an assertion"):
            with pytest.raises(errors.Forbidden):
                client.call("registration", "get", "attendee", registration_id, caller)
            with pytest.raises(errors.Forbidden):
                client.call("registration", "erase", "attendee", registration_id, caller)
            with pytest.raises(errors.Forbidden):
                client.call("registration", "list_registrations", {}, caller)
        for caller in (email, {"email": email}):
            with pytest.raises(errors.Forbidden):
                client.call("registration", "registrations_of", caller)
        # matching and notification take the gateway's word only: acting for someone else, or
        # as an organiser without the gateway's signature, is refused
        someone_else = vouched({"registration_id": "someone-else"})
        for caller in ({"organiser": True}, forged, someone_else):
            with pytest.raises(errors.Forbidden):
                client.call("notification", "inbox_of", registration_id, caller)
            with pytest.raises(errors.Forbidden):
                client.call("matching", "express_interest", registration_id, "any-company", caller)
        for service in ("matching", "notification"):
            with pytest.raises(errors.Forbidden):
                client.call(service, "dead_letters", forged)
        # the gateway's own assertion works, and only for a minute (the key is the platform's)
        assert client.call("registration", "get", "attendee", registration_id, vouched({"organiser": True}))
    finally:
        client.close()
    assert (
        platform.call("GET", f"/api/v1/attendees/{registration_id}", ORGANISER_TOKEN).json()["status"]
        == "active"
    )
