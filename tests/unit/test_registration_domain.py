import pytest

from registration import domain
from shared.errors import Conflict, Invalid, TooManyRequests

NOW, LATER = "2026-11-23T10:00:00.000000Z", "2026-11-23T11:00:00.000000Z"


def company():
    data = {
        "name": "Sori AI",
        "email": "ceo@sori.kr",
        "language": "en",
        "consents": {"privacy": True},
        "description": "captions",
        "tags": ["hearing_impairment", "ai"],
        "stage": "seed",
    }
    return domain.register("company", data, "expo-2026", "hash", NOW)


def attendee(needs=True):
    data = {
        "name": "Park",
        "email": "park@example.kr",
        "language": "ko",
        "attendee_type": "senior",
        "consents": {"privacy": True, "sensitive": needs},
        "accessibility_needs": {"wheelchair_access": True, "companions": 1},
    }
    return domain.register("attendee", data, "expo-2026", "hash", NOW)


def test_registering_a_company_raises_a_contact_event_and_a_profile_event():
    document, events = company()
    assert document["status"] == "active" and document["revision"] == 1
    assert [event["type"] for event in events] == ["registration.created", "registration.profile_changed"]
    created, profile = events
    assert created["payload"]["contact"] == {"name": "Sori AI", "email": "ceo@sori.kr", "language": "en"}
    assert profile["payload"]["tags"] == ["hearing_impairment", "ai"]
    assert "email" not in str(profile["payload"])


def test_accessibility_needs_never_leave_in_an_event():
    document, events = attendee()
    assert document["accessibility_needs"]["wheelchair_access"] is True
    assert [event["type"] for event in events] == ["registration.created"]
    assert "accessibility" not in str(events) and "wheelchair" not in str(events)


def test_one_active_registration_per_email_kind_and_expo_is_keyed_case_insensitively():
    assert domain.active_key("e", "company", "CEO@Sori.kr") == domain.active_key(
        "e", "company", "ceo@sori.kr"
    )


def test_a_change_bumps_the_revision_and_only_a_profile_change_tells_matching():
    document, _ = company()
    changed, events = domain.change(document, {"description": "new"}, LATER)
    assert changed["revision"] == 2 and [e["type"] for e in events] == ["registration.updated"]
    changed, events = domain.change(changed, {"tags": ["elderly"]}, LATER)
    assert [e["type"] for e in events] == ["registration.updated", "registration.profile_changed"]


def test_a_change_that_changes_nothing_raises_nothing():
    document, _ = company()
    assert domain.change(document, {"name": "Sori AI"}, LATER) == (document, [])


def test_withdrawing_sensitive_consent_destroys_the_accessibility_needs():
    document, _ = attendee()
    changed, _ = domain.change(document, {"consents": {"sensitive": False}}, LATER)
    assert "accessibility_needs" not in changed
    with pytest.raises(Invalid):
        domain.change(changed, {"accessibility_needs": {"guide_dog": True}}, LATER)


def test_cancelling_destroys_accessibility_needs_and_frees_the_email():
    document, _ = attendee()
    cancelled, events = domain.cancel(document, LATER)
    assert cancelled["status"] == "cancelled"
    assert "accessibility_needs" not in cancelled and "active_key" not in cancelled
    assert [e["type"] for e in events] == ["registration.cancelled"]
    assert domain.cancel(cancelled, LATER) == (cancelled, [])
    with pytest.raises(Conflict):
        domain.change(cancelled, {"name": "x"}, LATER)


def test_cancelling_a_company_withdraws_it_from_matching():
    document, _ = company()
    _, events = domain.cancel(document, LATER)
    assert events[1]["type"] == "registration.profile_changed" and events[1]["payload"]["active"] is False


def test_erasing_keeps_no_personal_field():
    document, _ = attendee()
    tombstone, events = domain.erase({**document, "_v": 3, "outbox": ["a pending event with contact"]}, LATER)
    assert tombstone["outbox"] == []
    assert set(tombstone) == {
        "_id",
        "_v",
        "kind",
        "expo_id",
        "created_at",
        "outbox",
        "status",
        "revision",
        "erased_at",
    }
    assert events[0]["type"] == "registration.erased"


def test_views():
    document, _ = company()
    view = domain.owner_view(document)
    assert view["id"] == document["_id"] and "token_hash" not in view and "active_key" not in view
    assert view["consents"] == {"privacy": True, "sensitive": False}
    profile = domain.public_profile(document)
    assert "email" not in profile and profile["name"] == "Sori AI"


def test_tokens_are_long_random_and_stored_only_as_hashes():
    token = domain.new_manage_token()
    assert len(token) > 40 and domain.hash_token(token) != token
    assert domain.new_manage_token() != token


def test_tags_may_change_a_few_times_an_hour_then_429_says_when_to_retry():
    document, _ = company()
    minutes = ["10:00", "10:10", "10:20"]
    for number, minute in enumerate(minutes):
        tags = ["elderly"] if number % 2 == 0 else ["hearing_impairment", "ai"]
        document, events = domain.change(document, {"tags": tags}, f"2026-11-23T{minute}:00.000000Z", 3)
        assert events[-1]["type"] == "registration.profile_changed"
    with pytest.raises(TooManyRequests) as refused:
        domain.change(document, {"tags": ["dementia"]}, "2026-11-23T10:30:00.000000Z", 3)
    assert refused.value.retry_after == 30 * 60  # the 10:00 change leaves the hour at 11:00
    # other fields may still change, and tags again once the oldest change is an hour old
    document, events = domain.change(document, {"description": "x"}, "2026-11-23T10:31:00.000000Z", 3)
    assert [e["type"] for e in events] == ["registration.updated"]
    document, events = domain.change(document, {"tags": ["dementia"]}, "2026-11-23T11:00:01.000000Z", 3)
    assert events[-1]["type"] == "registration.profile_changed"
    assert "profile_changes" not in domain.owner_view(document)
