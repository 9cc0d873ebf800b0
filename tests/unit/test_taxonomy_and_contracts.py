import pytest
from marshmallow import ValidationError

from shared import taxonomy
from shared.contracts.events import InvalidEvent, derived_id, new_event, parse_event
from shared.contracts.registration import load_registration

COMPANY = {
    "name": "Sori AI",
    "email": "CEO@Sori.KR",
    "consents": {"privacy": True},
    "description": "AI real-time text interpretation for deaf people",
    "tags": ["청각장애", "Speech to Text", "AI"],
    "stage": "seed",
}


@pytest.mark.parametrize(
    ("text", "tag"),
    [
        ("어르신", "elderly"),
        ("Seniors", "elderly"),
        ("deaf", "hearing_impairment"),
        ("건강·안전", "health_safety"),
        ("health-safety", "health_safety"),
        ("VR", "vr_ar"),
    ],
)
def test_tags_in_either_language_or_by_synonym_are_normalised(text, tag):
    assert taxonomy.normalise(text) == tag


def test_a_stage_is_not_a_matching_tag():
    assert taxonomy.normalise("seed") is None
    assert taxonomy.normalise("seed", ("stage",)) == "seed"


def test_taxonomy_document_has_every_category_with_both_labels():
    document = taxonomy.as_document()
    categories = {category["id"] for category in document["categories"]}
    assert categories == {"digital_right", "target_group", "technology", "stage", "investor_type"}
    assert all(tag["ko"] and tag["en"] for c in document["categories"] for tag in c["tags"])


def test_company_registration_is_normalised():
    data = load_registration("company", COMPANY)
    assert data["tags"] == ["hearing_impairment", "speech_to_text", "ai"]
    assert data["email"] == "CEO@sori.kr"
    assert data["language"] == "ko"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": {"$ne": None}}, "name"),
        ({"email": {"$gt": ""}}, "email"),
        ({"consents": {"privacy": False}}, "consents"),
        ({"consents": {"privacy": "true"}}, "consents"),
        ({"tags": ["no-such-tag"]}, "tags"),
        ({"tags": ["ai"] * 10_000}, "tags"),
        ({"stage": "unicorn"}, "stage"),
        ({"$where": "sleep(1000)"}, "$where"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"website": "javascript:alert(1)"}, "website"),
    ],
)
def test_invalid_company_fields_are_named(change, field):
    with pytest.raises(ValidationError) as raised:
        load_registration("company", {**COMPANY, **change})
    assert field in raised.value.messages


def test_accessibility_needs_require_separate_sensitive_consent():
    attendee = {
        "name": "Park",
        "email": "p@example.kr",
        "consents": {"privacy": True},
        "attendee_type": "person_with_disability",
        "accessibility_needs": {"wheelchair_access": True},
    }
    with pytest.raises(ValidationError) as raised:
        load_registration("attendee", attendee)
    assert "accessibility_needs" in raised.value.messages
    consented = {**attendee, "consents": {"privacy": True, "sensitive": True}}
    assert load_registration("attendee", consented)["accessibility_needs"]["wheelchair_access"] is True


def test_investor_ticket_range_must_be_ordered():
    investor = {
        "name": "Lee",
        "organisation": "Impact VC",
        "email": "lee@vc.kr",
        "consents": {"privacy": True},
        "interests": ["elderly"],
        "stages": ["seed"],
        "ticket_min_krw": 500,
        "ticket_max_krw": 100,
    }
    with pytest.raises(ValidationError) as raised:
        load_registration("investor", investor)
    assert "ticket_max_krw" in raised.value.messages


def test_partial_change_validates_only_given_fields_and_never_the_event():
    assert load_registration("company", {"tags": ["vr"]}, partial=True) == {"tags": ["vr_ar"]}
    for field in ("event_id", "expo_id"):
        with pytest.raises(ValidationError):
            load_registration("company", {field: "other"}, partial=True)


def test_events_round_trip_and_are_checked_both_ways():
    event = new_event("registration.erased", {"registration_id": "r1", "kind": "attendee", "revision": 2})
    parsed = parse_event(event)
    assert parsed.type == "registration.erased" and parsed.payload["revision"] == 2
    with pytest.raises(InvalidEvent):
        new_event("registration.erased", {"registration_id": "r1"})
    with pytest.raises(InvalidEvent):
        parse_event({**event, "version": 99})
    with pytest.raises(InvalidEvent):
        parse_event({**event, "payload": {"registration_id": 5}})
    with pytest.raises(InvalidEvent):
        parse_event("not an envelope")


def test_derived_ids_are_stable():
    assert derived_id("a", "b") == derived_id("a", "b") != derived_id("a", "c")
