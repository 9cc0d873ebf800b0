"""The registration schemas the gateway and the registration service share: attendee fields,
partial changes, sign-in, organisers' searches and callers."""

import pytest
from marshmallow import ValidationError

from shared.contracts.registration import (
    CallerSchema,
    RegistrationQuerySchema,
    SignInRequestSchema,
    load_registration,
)


def attendee(**fields):
    return {
        "name": "Park",
        "email": "park@example.kr",
        "attendee_type": "person_with_disability",
        "consents": {"privacy": True, "sensitive": True},
        **fields,
    }


def refused(kind, data, partial=False):
    with pytest.raises(ValidationError) as raised:
        load_registration(kind, data, partial=partial)
    return raised.value.messages


def test_companions_and_a_carers_name_are_attendee_fields():
    loaded = load_registration("attendee", attendee(companions=2, carer_name="Park Jimin"))
    assert (loaded["companions"], loaded["carer_name"]) == (2, "Park Jimin")
    assert load_registration("attendee", attendee())["companions"] == 0
    assert set(refused("attendee", attendee(companions=6))) == {"companions"}
    assert set(refused("attendee", attendee(companions="2"))) == {"companions"}
    assert set(refused("attendee", attendee(carer_name="x" * 101))) == {"carer_name"}
    # no longer an accessibility need
    messages = refused("attendee", attendee(accessibility_needs={"companions": 1}))
    assert "companions" in messages["accessibility_needs"]


def test_a_partial_change_of_needs_or_consents_holds_only_what_was_given():
    # marshmallow passes partial on to nested schemas: no defaults fill the needs not named,
    # so the service can merge them with the stored ones
    loaded = load_registration("attendee", {"accessibility_needs": {"live_captioning": True}}, partial=True)
    assert loaded == {"accessibility_needs": {"live_captioning": True}}
    loaded = load_registration("attendee", {"consents": {"privacy": True}}, partial=True)
    assert loaded == {"consents": {"privacy": True}}
    assert load_registration("attendee", {"carer_name": None}, partial=True) == {"carer_name": None}


def test_new_needs_still_need_the_separate_consent():
    without_consent = attendee(consents={"privacy": True}, accessibility_needs={"guide_dog": True})
    messages = refused("attendee", without_consent)
    assert set(messages) == {"accessibility_needs"}


def test_a_sign_in_request_has_an_address_and_a_language():
    assert SignInRequestSchema().load({"email": " Park@Example.KR "}) == {
        "email": "Park@example.kr",
        "language": "ko",
    }
    for bad in ({"email": "nope"}, {"email": {"$ne": None}}, {"email": "a@b.kr", "language": "fr"}, {}):
        with pytest.raises(ValidationError):
            SignInRequestSchema().load(bad)


def test_an_organisers_search_takes_empty_filters_as_none_and_page_numbers_as_digits():
    schema = RegistrationQuerySchema()
    assert schema.load({}) == {"page": 1, "per_page": 25}
    assert schema.load({"kind": "", "status": None, "q": "  ", "page": "3", "per_page": 10}) == {
        "page": 3,
        "per_page": 10,
    }
    assert schema.load({"q": " Kim ", "kind": "investor", "status": "cancelled"})["q"] == "Kim"
    bad_queries = {
        "kind": "robot",
        "status": "erased",
        "q": "x" * 101,
        "attendee_type": "alien",
        "page": 0,
        "per_page": 101,
    }
    with pytest.raises(ValidationError) as raised:
        schema.load(bad_queries)
    assert set(raised.value.messages) == set(bad_queries)
    for page in (2.5, "2.5", True, "two", "9" * 5000, {"$gt": 1}):
        with pytest.raises(ValidationError):
            schema.load({"page": page})
    with pytest.raises(ValidationError):
        schema.load({"sort": "name"})


def test_callers():
    schema = CallerSchema()
    assert schema.load({"token": "tcx_a"}) == {"token": "tcx_a", "organiser": False, "organiser_email": None}
    assert schema.load({"organiser": True}) == {"organiser": True, "organiser_email": None}
    named = schema.load({"organiser": True, "organiser_email": "Kim@Expo.kr"})
    assert named["organiser_email"] == "Kim@expo.kr"
    assert schema.load({"email": "park@example.kr"})["email"] == "park@example.kr"
    for bad in (None, "organiser", {"organiser": "yes"}, {"email": {"$ne": None}}, {"token": 5}):
        with pytest.raises(ValidationError):
            schema.load(bad)


def test_companions_names_are_at_most_as_many_as_companions():
    from shared.contracts.registration import load_registration

    body = {
        "name": "Park",
        "email": "park@example.kr",
        "attendee_type": "citizen",
        "consents": {"privacy": True},
        "companions": 1,
    }
    assert load_registration("attendee", body)["companion_names"] == []
    assert load_registration("attendee", {**body, "companion_names": ["Lee"]})["companion_names"] == ["Lee"]
    with pytest.raises(ValidationError) as raised:
        load_registration("attendee", {**body, "companion_names": ["Lee", "Choi"]})
    assert "companion_names" in raised.value.messages
    with pytest.raises(ValidationError) as raised:
        load_registration("attendee", {**body, "companion_names": ["Lee\u202e"], "companions": 1})
    assert "companion_names" in raised.value.messages
    with pytest.raises(ValidationError):
        load_registration("attendee", {**body, "companions": 5, "companion_names": ["x"] * 6})
    # a change naming them alone is checked against the stored number, by the service
    assert load_registration("attendee", {"companion_names": ["Lee", "Choi"]}, partial=True) == {
        "companion_names": ["Lee", "Choi"]
    }
