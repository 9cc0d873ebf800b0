"""The registration service as a real process, over the real broker and store."""

import uuid

import pytest
from cryptography.fernet import Fernet

from shared import errors
from tests.conftest import service_env, vouched, wait_for
from tests.integration.service_helpers import start_service
from tests.integration.test_outbox_and_inbox import drain

# the registration services of every test module share one database, so they share its key
SENSITIVE_DATA_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="module")
def registration(amqp_uri, store_server, tmp_path_factory):
    env = service_env(
        amqp_uri, store_server["uri"], ORGANISER_TOKEN="organiser", SENSITIVE_DATA_KEY=SENSITIVE_DATA_KEY
    )
    process, client = start_service("registration", env, tmp_path_factory.mktemp("logs"))
    yield client
    client.close()
    process.stop()


def company(**overrides):
    return {
        "name": "Sori AI",
        "email": f"{uuid.uuid4().hex[:8]}@sori.kr",
        "consents": {"privacy": True},
        "description": "AI captions for deaf people",
        "tags": ["청각장애", "AI"],
        "stage": "seed",
        **overrides,
    }


def test_register_read_change_cancel(registration, amqp_uri):
    drain(amqp_uri, "matching"), drain(amqp_uri, "notification")
    created = registration.call("registration", "create", "company", company())
    token, registration_id = created["manage_token"], created["id"]
    assert created["tags"] == ["hearing_impairment", "ai"] and created["status"] == "active"

    mine = vouched({"token": token})
    assert registration.call("registration", "get", "company", registration_id, mine)["name"] == "Sori AI"
    changed = registration.call(
        "registration", "update", "company", registration_id, {"stage": "pre_a"}, mine
    )
    assert changed["stage"] == "pre_a" and changed["revision"] == 2
    cancelled = registration.call("registration", "cancel", "company", registration_id, mine)
    assert cancelled["status"] == "cancelled"

    to_matching = wait_for(lambda: _collect(amqp_uri, "matching", 3), message="three profile events")
    assert [e["payload"]["revision"] for e in to_matching] == [1, 2, 3]
    assert to_matching[-1]["payload"]["active"] is False
    assert all("email" not in str(e["payload"]) for e in to_matching)
    to_notification = wait_for(lambda: _collect(amqp_uri, "notification", 3), message="three contact events")
    assert [e["type"] for e in to_notification] == [
        "registration.created",
        "registration.updated",
        "registration.cancelled",
    ]


_seen: dict[str, list] = {}


def _collect(amqp_uri, service, count):
    _seen.setdefault(service, []).extend(drain(amqp_uri, service))
    if len(_seen[service]) >= count:
        return _seen.pop(service)
    return None


def test_second_registration_with_same_email_is_refused_and_changes_nothing(registration):
    data = company()
    registration.call("registration", "create", "company", data)
    with pytest.raises(errors.Conflict):
        registration.call("registration", "create", "company", {**data, "email": data["email"].upper()})
    # another kind with the same e-mail is a different registration
    investor = {
        "name": "Kim",
        "organisation": "Seoul Impact",
        "email": data["email"],
        "consents": {"privacy": True},
        "interests": ["elderly"],
        "stages": ["seed"],
    }
    assert registration.call("registration", "create", "investor", investor)["kind"] == "investor"


def test_cancelled_email_may_register_again(registration):
    data = company()
    first = registration.call("registration", "create", "company", data)
    registration.call("registration", "cancel", "company", first["id"], vouched({"organiser": True}))
    assert registration.call("registration", "create", "company", data)["id"] != first["id"]


def test_access_needs_the_registrants_token_or_an_organiser(registration):
    created = registration.call("registration", "create", "company", company())
    other = registration.call("registration", "create", "company", company())
    for caller in (vouched({"token": other["manage_token"]}), vouched({"token": "tcx_nope"}), vouched({})):
        with pytest.raises(errors.Forbidden):
            registration.call("registration", "get", "company", created["id"], caller)
    with pytest.raises(errors.Forbidden):  # a kind that does not match is no oracle either
        registration.call(
            "registration", "get", "investor", created["id"], vouched({"token": created["manage_token"]})
        )
    assert registration.call("registration", "get", "company", created["id"], vouched({"organiser": True}))
    with pytest.raises(errors.NotFound):
        registration.call("registration", "get", "company", "no-such-id", vouched({"organiser": True}))


def test_invalid_input_is_refused_with_field_errors(registration):
    with pytest.raises(errors.Invalid) as raised:
        registration.call("registration", "create", "company", company(name={"$ne": None}, tags=["x"]))
    assert set(raised.value.fields) == {"name", "tags"}
    with pytest.raises(errors.NotFound):
        registration.call("registration", "create", "company", company(event_id="no-such-event"))


def test_accessibility_needs_are_sealed_at_rest_and_destroyed_on_erase(registration, mongo):
    attendee = {
        "name": "Park",
        "email": f"{uuid.uuid4().hex[:8]}@example.kr",
        "attendee_type": "senior",
        "consents": {"privacy": True, "sensitive": True},
        "accessibility_needs": {"wheelchair_access": True, "other": "needs a quiet room"},
    }
    created = registration.call("registration", "create", "attendee", attendee)
    assert created["accessibility_needs"]["wheelchair_access"] is True
    assert created["attendee_type"] == "senior"
    raw = mongo["registration"]["registrations"].find_one({"_id": created["id"]})
    assert "accessibility_needs" not in raw and "quiet room" not in str(raw)
    assert "quiet room" not in str(raw["outbox"])
    # the visitor type tells of a need for care: sealed with the needs, in no event
    assert "senior" not in str(raw) and "attendee_type" not in raw
    stats = registration.call("registration", "stats")
    assert stats["accessibility_needs"]["wheelchair_access"] >= 1

    registration.call(
        "registration", "erase", "attendee", created["id"], vouched({"token": created["manage_token"]})
    )
    raw = mongo["registration"]["registrations"].find_one({"_id": created["id"]})
    assert raw["status"] == "erased" and "Park" not in str({k: v for k, v in raw.items() if k != "outbox"})
    assert "accessibility_needs_sealed" not in raw
    with pytest.raises(errors.Forbidden):
        registration.call(
            "registration", "get", "attendee", created["id"], vouched({"token": created["manage_token"]})
        )


def test_a_sensitive_visitor_type_needs_the_sensitive_consent_and_goes_on_cancellation(registration, mongo):
    attendee = {
        "name": "Park",
        "email": f"{uuid.uuid4().hex[:8]}@example.kr",
        "attendee_type": "person_with_disability",
        "consents": {"privacy": True},
    }
    with pytest.raises(errors.Invalid) as refused:
        registration.call("registration", "create", "attendee", attendee)
    assert set(refused.value.fields) == {"attendee_type"}
    created = registration.call(
        "registration", "create", "attendee", {**attendee, "consents": {"privacy": True, "sensitive": True}}
    )
    caller = vouched({"token": created["manage_token"]})
    assert registration.call("registration", "get", "attendee", created["id"], caller)["attendee_type"] == (
        "person_with_disability"
    )
    row = registration.call(
        "registration", "list_registrations", {"q": created["reference"]}, vouched({"organiser": True})
    )
    assert row["items"][0]["attendee_type"] is None, "no list shows a sensitive type"
    registration.call("registration", "cancel", "attendee", created["id"], caller)
    raw = mongo["registration"]["registrations"].find_one({"_id": created["id"]})
    assert "attendee_type" not in raw and "attendee_type_sealed" not in raw


def test_identify_and_public_profiles(registration):
    created = registration.call("registration", "create", "company", company(website="https://sori.example"))
    holder = vouched({"token": created["manage_token"]})
    assert registration.call("registration", "identify", created["manage_token"], holder) == {
        "registration_id": created["id"],
        "kind": "company",
    }
    assert (
        registration.call("registration", "identify", "tcx_unknown", vouched({"token": "tcx_unknown"}))
        is None
    )
    counterpart = vouched({"registration_id": "a-counterpart"})
    profile = registration.call("registration", "public_profiles", [created["id"]], counterpart)[
        created["id"]
    ]
    assert profile["name"] == "Sori AI" and "email" not in profile


def test_a_change_of_one_need_or_one_consent_keeps_everything_else(registration, mongo):
    created = registration.call(
        "registration",
        "create",
        "attendee",
        {
            "name": "Park",
            "email": f"{uuid.uuid4().hex[:8]}@example.kr",
            "attendee_type": "person_with_disability",
            "consents": {"privacy": True, "sensitive": True},
            "accessibility_needs": {
                "sign_language_interpreter": True,
                "wheelchair_access": True,
                "other": "a seat near the stage",
            },
            "companions": 2,
        },
    )
    mine = vouched({"token": created["manage_token"]})
    path = ("attendee", created["id"])
    changed = registration.call(
        "registration", "update", *path, {"accessibility_needs": {"live_captioning": True}}, mine
    )
    registration.call("registration", "update", *path, {"consents": {"privacy": True}}, mine)
    read = registration.call("registration", "get", *path, mine)
    expected = {
        "wheelchair_access": True,
        "sign_language_interpreter": True,
        "live_captioning": True,
        "braille_or_large_print": False,
        "assistive_listening": False,
        "easy_read": False,
        "guide_dog": False,
        "other": "a seat near the stage",
    }
    assert changed["accessibility_needs"] == read["accessibility_needs"] == expected
    assert read["consents"] == {"privacy": True, "sensitive": True}
    assert read["companions"] == 2 and read["revision"] == 2  # the consent given again changed nothing
    raw = mongo["registration"]["registrations"].find_one({"_id": created["id"]})
    assert "seat near" not in str(raw) and "companions" in raw


def test_the_same_idempotency_key_registers_once(registration):
    key = str(uuid.uuid4())
    body = company()
    first = registration.call("registration", "create", "company", body, key)
    again = registration.call("registration", "create", "company", body, key)
    assert again["id"] == first["id"] and again["reference"] == first["reference"]
    assert again["repeated"] is True and "manage_token" not in again
    # without the key (or with another), the same e-mail is still a conflict
    with pytest.raises(errors.Conflict):
        registration.call("registration", "create", "company", body)
    with pytest.raises(errors.Conflict):
        registration.call("registration", "create", "company", body, str(uuid.uuid4()))
    with pytest.raises(errors.Invalid):
        registration.call("registration", "create", "company", company(), "short")
