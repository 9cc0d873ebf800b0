"""A message on the broker alone cannot read: a raw AMQP client that reaches RabbitMQ, but does
not hold the gateway's CALLER_SIGNING_KEY, asks registration how companies and investors are
reached (``contact_cards``), what they publish (``public_profiles``), whom a manage token belongs
to (``identify``), and matching whose suggestions a party has (``suggestions``). Without the
gateway's assertion (none, not signed, signed with another key, or signed over a minute ago) each
is refused with Forbidden (and the call as it was made before it took an assertion, with none, is
refused by its signature), and nothing is answered; the same calls with the gateway's own
assertion answer, so there was something to refuse."""

import time
import uuid
from unittest import mock

import pytest
from itsdangerous import TimestampSigner
from nameko.exceptions import IncorrectSignature

from shared import errors
from shared.caller_assertions import MAX_AGE_SECONDS, vouch
from shared.rpc import RpcClient
from tests.conftest import CALLER_SIGNING_KEY, vouched, wait_for
from tests.platform import ORGANISER_TOKEN

pytestmark = pytest.mark.e2e

TAGS = ["hearing_impairment", "ai"]


def expired(caller: dict) -> str:
    """``caller`` signed with the gateway's key, but longer ago than an assertion lasts (one seen
    on the broker and kept)."""
    made = int(time.time()) - MAX_AGE_SECONDS - 60
    with mock.patch.object(TimestampSigner, "get_timestamp", lambda self: made):
        return vouch(caller, CALLER_SIGNING_KEY)


def not_the_gateways(caller: dict) -> list:
    """``caller`` as a client without the gateway's key can put it on the broker."""
    return [
        None,
        "not an assertion",
        caller,
        vouch(caller, "a key that is not the gateway's"),
        expired(caller),
    ]


@pytest.fixture(scope="module")
def pair(platform) -> dict:
    """A company and an investor suggested to each other, registered through the gateway."""
    suffix = uuid.uuid4().hex[:10]
    company = platform.call(
        "POST",
        "/api/v1/companies",
        json={
            "name": "Sori AI",
            "email": f"company-{suffix}@example.kr",
            "contact_name": "Lee Sora",
            "consents": {"privacy": True},
            "description": "Real-time captions for deaf people",
            "tags": TAGS,
            "stage": "seed",
        },
    ).json()
    investor = platform.call(
        "POST",
        "/api/v1/investors",
        json={
            "name": "Sujin Lee",
            "organisation": "Seoul Impact Partners",
            "email": f"investor-{suffix}@example.kr",
            "consents": {"privacy": True},
            "interests": TAGS,
            "stages": ["seed"],
        },
    ).json()
    matches = f"/api/v1/investors/{investor['id']}/matches"
    wait_for(
        lambda: (
            company["id"]
            in {
                item["company_id"]
                for item in platform.call("GET", matches, investor["manage_token"]).json()["items"]
            }
        ),
        30,
        interval=0.3,
        message="the suggestion",
    )
    return {"company": company, "investor": investor}


@pytest.fixture
def client(platform):
    client = RpcClient(platform.amqp_uri, timeout=10)
    yield client
    client.close()


def test_broker_trust_a_raw_amqp_client_without_the_gateways_assertion_reads_no_contact_cards(pair, client):
    ids = [pair["company"]["id"], pair["investor"]["id"]]
    investor = pair["investor"]["id"]
    # the call as it was before it took an assertion answers nothing either
    with pytest.raises(IncorrectSignature):
        client.call("registration", "contact_cards", ids)
    for caller in [
        *not_the_gateways({"registration_id": investor}),
        *not_the_gateways({"organiser": True}),
        # the gateway's word for an anonymous caller, or for one it knows only by a token it has
        # not checked, is not enough: contact cards are for a company or an investor
        vouched({}),
        vouched({"token": pair["investor"]["manage_token"]}),
    ]:
        with pytest.raises(errors.Forbidden):
            client.call("registration", "contact_cards", ids, caller)
    cards = client.call("registration", "contact_cards", ids, vouched({"registration_id": investor}))
    assert cards[pair["company"]["id"]]["email"] == pair["company"]["email"]


def test_broker_trust_a_raw_amqp_client_without_the_gateways_assertion_reads_no_public_profiles(pair, client):
    ids = [pair["company"]["id"]]
    with pytest.raises(IncorrectSignature):
        client.call("registration", "public_profiles", ids)
    for caller in [
        *not_the_gateways({"registration_id": pair["investor"]["id"]}),
        vouched({}),
    ]:
        with pytest.raises(errors.Forbidden):
            client.call("registration", "public_profiles", ids, caller)
    for caller in (vouched({"registration_id": pair["investor"]["id"]}), vouched({"organiser": True})):
        profiles = client.call("registration", "public_profiles", ids, caller)
        assert profiles[pair["company"]["id"]]["name"] == "Sori AI"


def test_broker_trust_a_raw_amqp_client_without_the_gateways_assertion_cannot_identify_a_manage_token(
    pair, client
):
    token = pair["investor"]["manage_token"]
    with pytest.raises(IncorrectSignature):
        client.call("registration", "identify", token)
    for caller in not_the_gateways({"token": token}):
        with pytest.raises(errors.Forbidden):
            client.call("registration", "identify", token, caller)
    # the gateway asks for whoever presents a token: it vouches for them before it knows them
    assert client.call("registration", "identify", token, vouched({"token": token})) == {
        "registration_id": pair["investor"]["id"],
        "kind": "investor",
    }


def test_broker_trust_a_raw_amqp_client_without_the_gateways_assertion_reads_no_suggestions(pair, client):
    investor, company = pair["investor"]["id"], pair["company"]["id"]
    with pytest.raises(IncorrectSignature):
        client.call("matching", "suggestions", "investor", investor)
    for caller in [
        *not_the_gateways({"registration_id": investor}),
        *not_the_gateways({"organiser": True}),
        # the gateway's word that the caller acts for another party (the company itself, say)
        vouched({"registration_id": company}),
        vouched({}),
    ]:
        with pytest.raises(errors.Forbidden):
            client.call("matching", "suggestions", "investor", investor, caller)
    for caller in (vouched({"registration_id": investor}), vouched({"organiser": True})):
        (suggested,) = client.call("matching", "suggestions", "investor", investor, caller)
        assert suggested["company_id"] == company


def test_the_gateways_own_calls_still_answer(platform, pair):
    """What the refused calls would have read, through the gateway (its API: identify,
    suggestions and public profiles, for the investor and for an organiser)."""
    investor, company = pair["investor"], pair["company"]
    for token in (investor["manage_token"], ORGANISER_TOKEN):
        answer = platform.call("GET", f"/api/v1/investors/{investor['id']}/matches", token)
        assert answer.status_code == 200, answer.text
        (item,) = answer.json()["items"]
        assert item["company_id"] == company["id"] and item["company"]["name"] == "Sori AI"
    assert (
        platform.call("GET", f"/api/v1/investors/{investor['id']}/matches", "tcx_unknown").status_code == 403
    )
