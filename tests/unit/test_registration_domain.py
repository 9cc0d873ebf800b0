import re

import pytest

from registration import domain
from shared.contracts.events import parse_event
from shared.contracts.registration import REGISTRATION_ROW_FIELDS, reference_of
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
        "accessibility_needs": {**domain.NO_NEEDS, "wheelchair_access": True, "other": "a quiet room"},
        "companions": 1,
    }
    return domain.register("attendee", data, "expo-2026", "hash", NOW)


def investor():
    data = {
        "name": "Kim Sujin",
        "organisation": "Seoul Impact",
        "email": "Sujin@Impact.kr",
        "language": "ko",
        "consents": {"privacy": True},
        "interests": ["elderly"],
        "stages": ["seed"],
    }
    return domain.register("investor", data, "expo-2026", "hash", NOW)


def test_registering_a_company_raises_a_contact_event_and_a_profile_event():
    document, events = company()
    assert document["status"] == "active" and document["revision"] == 1
    assert [event["type"] for event in events] == ["registration.created", "registration.profile_changed"]
    created, profile = events
    assert created["payload"]["contact"] == {
        "name": "Sori AI",
        "email": "ceo@sori.kr",
        "language": "en",
        "organisation": "Sori AI",
        "contact_person": "",
        "website": "",
    }
    assert profile["payload"]["tags"] == ["hearing_impairment", "ai"]
    assert "email" not in str(profile["payload"])


def test_accessibility_needs_never_leave_in_an_event():
    document, events = attendee()
    assert document["accessibility_needs"]["wheelchair_access"] is True
    assert [event["type"] for event in events] == ["registration.created"]
    assert "accessibility" not in str(events) and "wheelchair" not in str(events)


def test_one_active_registration_per_email_kind_and_event_is_keyed_case_insensitively():
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


def test_withdrawing_sensitive_consent_destroys_a_visitor_type_that_tells_of_care_too():
    document, _ = attendee()
    changed, _ = domain.change(document, {"consents": {"sensitive": False}}, LATER)
    assert "attendee_type" not in changed
    with pytest.raises(Invalid) as refused:
        domain.change(changed, {"attendee_type": "person_with_disability"}, LATER)
    assert "attendee_type" in refused.value.fields
    ordinary, _ = domain.change(changed, {"attendee_type": "citizen"}, LATER)
    assert ordinary["attendee_type"] == "citizen"


def test_no_event_carries_the_visitor_type():
    document, events = attendee()
    _, changed = domain.change(document, {"attendee_type": "person_with_disability"}, LATER)
    _, cancelled = domain.cancel(document, LATER)
    for event in events + changed + cancelled:
        assert "senior" not in str(event) and "person_with_disability" not in str(event)


def test_a_sensitive_visitor_type_kept_in_plain_text_by_an_earlier_version_is_dropped_without_consent():
    document, _ = attendee(needs=False)
    document["attendee_type"] = "person_with_disability"  # as an earlier version stored it
    assert "attendee_type" not in domain.upgrade(document)
    document["consents"]["sensitive_at"] = NOW
    assert domain.upgrade(document)["attendee_type"] == "person_with_disability"
    assert "attendee_type" not in domain.upgrade({**document, "status": "cancelled"})


def test_cancelling_destroys_accessibility_needs_and_frees_the_email():
    document, _ = attendee()
    cancelled, events = domain.cancel(document, LATER)
    assert cancelled["status"] == "cancelled"
    assert "accessibility_needs" not in cancelled and "active_key" not in cancelled
    assert "attendee_type" not in cancelled, "a senior's visitor type tells of a need for care"
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
        "event_id",
        "created_at",
        "outbox",
        "status",
        "revision",
        "erased_at",
        domain.CONTACT_REFRESHED,
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


# --- registration numbers, contact cards --------------------------------------------------


def test_a_registration_has_its_number_and_its_address_key_but_shows_only_the_number():
    document, _ = investor()
    assert document["reference"] == reference_of(document["_id"])
    assert re.fullmatch(r"TCX-[A-Z2-7]{4}-[A-Z2-7]{4}", document["reference"])
    assert document["email_key"] == "sujin@impact.kr"
    view = domain.owner_view(document)
    assert view["reference"] == document["reference"] and "email_key" not in view


def test_contact_cards_and_the_contact_in_events_name_the_organisation_and_the_person():
    company_document, _ = company()
    with_details = {**company_document, "contact_name": "Lee", "website": "https://sori.example"}
    assert domain.contact_card(with_details) == {
        "kind": "company",
        "organisation": "Sori AI",
        "contact_person": "Lee",
        "email": "ceo@sori.kr",
        "website": "https://sori.example",
    }
    investor_document, events = investor()
    assert domain.contact_card(investor_document) == {
        "kind": "investor",
        "organisation": "Seoul Impact",
        "contact_person": "Kim Sujin",
        "email": "Sujin@Impact.kr",
        "website": "",
    }
    contact = parse_event(events[0]).payload["contact"]
    assert (contact["organisation"], contact["contact_person"]) == ("Seoul Impact", "Kim Sujin")
    attendee_document, events = attendee()
    assert domain.contact_card(attendee_document) is None
    assert set(events[0]["payload"]["contact"]) == {"name", "email", "language"}
    _, events = domain.cancel(investor_document, LATER)
    assert events[0]["payload"]["contact"]["organisation"] == "Seoul Impact"


# --- attendee fields and partial changes --------------------------------------------------


def test_companions_are_an_attendee_field_not_a_need():
    document, _ = attendee()
    assert document["companions"] == 1 and "companions" not in document["accessibility_needs"]


def test_a_change_of_one_need_keeps_every_other_need():
    document, _ = attendee()
    changed, events = domain.change(document, {"accessibility_needs": {"live_captioning": True}}, LATER)
    assert changed["accessibility_needs"] == {
        **domain.NO_NEEDS,
        "wheelchair_access": True,
        "live_captioning": True,
        "other": "a quiet room",
    }
    assert [event["type"] for event in events] == ["registration.updated"]
    changed, _ = domain.change(changed, {"accessibility_needs": {"wheelchair_access": False}}, LATER)
    assert changed["accessibility_needs"]["live_captioning"] is True
    assert changed["accessibility_needs"]["wheelchair_access"] is False


def test_needs_given_to_a_registration_without_any_start_from_none():
    data = {
        "name": "Park",
        "email": "p@example.kr",
        "language": "ko",
        "attendee_type": "senior",
        "consents": {"privacy": True, "sensitive": True},
    }
    document, _ = domain.register("attendee", data, "expo-2026", "hash", NOW)
    changed, _ = domain.change(document, {"accessibility_needs": {"guide_dog": True}}, LATER)
    assert changed["accessibility_needs"] == {**domain.NO_NEEDS, "guide_dog": True}


def test_needs_all_no_are_not_kept_and_null_removes_them():
    document, _ = attendee()
    changed, _ = domain.change(document, {"accessibility_needs": None}, LATER)
    assert "accessibility_needs" not in changed
    changed, _ = domain.change(
        document, {"accessibility_needs": {"wheelchair_access": False, "other": ""}}, LATER
    )
    assert "accessibility_needs" not in changed
    data = {
        "name": "Park",
        "email": "p@example.kr",
        "language": "ko",
        "attendee_type": "senior",
        "consents": {"privacy": True, "sensitive": True},
        "accessibility_needs": dict(domain.NO_NEEDS),
    }
    registered, _ = domain.register("attendee", data, "expo-2026", "hash", NOW)
    assert "accessibility_needs" not in registered


def test_a_change_of_one_consent_keeps_the_other_and_the_needs():
    document, _ = attendee()
    changed, _ = domain.change(document, {"consents": {"privacy": True}, "name": "Park Y"}, LATER)
    assert changed["consents"] == document["consents"]
    assert changed["accessibility_needs"] == document["accessibility_needs"]


def test_a_change_of_needs_relies_on_the_consent_already_given():
    document, _ = attendee()
    changed, _ = domain.change(document, {"accessibility_needs": {"easy_read": True}}, LATER)
    assert changed["accessibility_needs"]["easy_read"] is True


def test_a_carer_registering_for_someone_names_themselves_and_may_stop():
    document, _ = attendee()
    changed, _ = domain.change(document, {"carer_name": "Park Jimin", "companions": 2}, LATER)
    assert (changed["carer_name"], changed["companions"]) == ("Park Jimin", 2)
    assert domain.owner_view(changed)["carer_name"] == "Park Jimin"
    changed, _ = domain.change(changed, {"carer_name": None}, LATER)
    assert "carer_name" not in changed


def test_a_new_address_is_not_verified_but_a_change_of_case_is_the_same_address():
    document, _ = investor()
    verified = {**document, "email_verified_at": NOW}
    same, _ = domain.change(verified, {"email": "sujin@impact.kr"}, LATER)
    assert same["email_verified_at"] == NOW
    other, _ = domain.change(verified, {"email": "sujin@other.kr"}, LATER)
    assert "email_verified_at" not in other and other["email_key"] == "sujin@other.kr"


# --- registrations stored by earlier versions ----------------------------------------------


def test_upgrade_moves_companions_out_of_old_needs_and_adds_the_number():
    document, _ = attendee()
    new_fields = ("companions", "reference", "email_key")
    old = {key: value for key, value in document.items() if key not in new_fields}
    old["accessibility_needs"] = {"wheelchair_access": True, "companions": 2, "other": ""}
    upgraded = domain.upgrade(old)
    assert upgraded["companions"] == 2
    assert upgraded["accessibility_needs"] == {"wheelchair_access": True, "other": ""}
    assert upgraded["reference"] == reference_of(document["_id"])
    assert upgraded["email_key"] == "park@example.kr"
    assert domain.upgrade(upgraded) == upgraded
    only_companions = domain.upgrade({**old, "accessibility_needs": {"companions": 1, "guide_dog": False}})
    assert "accessibility_needs" not in only_companions and only_companions["companions"] == 1
    without_needs = domain.upgrade({key: value for key, value in old.items() if key != "accessibility_needs"})
    assert without_needs["companions"] == 0


def test_upgrade_leaves_tombstones_and_todays_registrations_as_they_are():
    document, _ = attendee()
    assert domain.upgrade(document) == document
    tombstone, _ = domain.erase({**document, "_v": 1}, LATER)
    assert domain.upgrade(tombstone) == tombstone


# --- who may act --------------------------------------------------------------------------


def caller(**fields):
    return {"organiser": False, "organiser_email": None, **fields}


def test_who_may_act_on_a_registration():
    document, _ = investor()
    token = "tcx_secret"
    document = {**document, "token_hash": domain.hash_token(token)}
    assert domain.may_act(document, caller(organiser=True))
    assert domain.may_act(document, caller(token=token))
    assert domain.may_act(document, caller(email="SUJIN@impact.kr"))
    assert not domain.may_act(document, caller(token="tcx_other"))
    assert not domain.may_act(document, caller(email="someone@impact.kr"))
    assert not domain.may_act(document, caller())


def test_audit_records_name_the_organiser_or_the_shared_token():
    record = domain.audit_record(caller(organiser=True), "export_registrations", None, NOW)
    assert (record["organiser"], record["registration_id"], record["at"]) == ("organiser token", None, NOW)
    record = domain.audit_record(
        caller(organiser=True, organiser_email="kim@expo.kr"), "read_accessibility_needs", "r1", NOW
    )
    assert (record["organiser"], record["registration_id"]) == ("kim@expo.kr", "r1")


# --- sign-in links ------------------------------------------------------------------------


def test_a_sign_in_link_keeps_only_the_hash_and_the_event_carries_the_token():
    document, events = domain.new_sign_in_link("Park@Example.kr", "en", 1, NOW, 15)
    event = parse_event(events[0])
    assert event.type == "registration.sign_in_link_requested"
    token = event.payload["link_token"]
    assert len(token) >= 40 and token not in str(document)
    assert document["_id"] == domain.hash_token(token)
    assert document["email"] == "park@example.kr" and event.payload["email"] == "Park@example.kr"
    assert document["expires_at"] == event.payload["expires_at"] == "2026-11-23T10:15:00.000000Z"
    assert (document["used_at"], document["slot_key"]) == (None, "park@example.kr/1")
    other, _ = domain.new_sign_in_link("Park@Example.kr", "en", 1, NOW, 15)
    assert other["_id"] != document["_id"]


def test_an_address_has_at_most_three_unexpired_links():
    def link(slot, expires_at):
        return {"slot": slot, "expires_at": expires_at}

    assert domain.free_link_slots([], NOW) == [0, 1, 2]
    assert domain.free_link_slots([link(0, LATER), link(2, LATER)], NOW) == [1]
    assert domain.free_link_slots([link(0, LATER), link(1, LATER), link(2, LATER)], NOW) == []
    # an expired link frees its slot
    assert domain.free_link_slots([link(0, LATER), link(1, NOW), link(2, LATER)], NOW) == [1]


def test_the_sign_in_email_is_in_the_language_the_person_registered_in():
    assert domain.link_language([{"language": "en"}, {"language": "ko"}], "ko") == "en"
    assert domain.link_language([], "en") == "en"


# --- organisers' lists and counts ---------------------------------------------------------


def test_an_organisers_search_never_finds_erased_registrations():
    assert domain.registration_filter({"page": 1, "per_page": 25}) == {
        "status": {"$in": ["active", "cancelled"]}
    }
    query = {"kind": "attendee", "status": "cancelled", "attendee_type": "senior"}
    assert domain.registration_filter(query) == {
        "status": "cancelled",
        "kind": "attendee",
        "attendee_type": "senior",
    }


def test_a_search_text_is_a_literal_part_of_name_email_organisation_or_a_whole_number():
    conditions = domain.registration_filter({"q": "tcx-ab.c(d"})
    part = {"$regex": re.escape("tcx-ab.c(d"), "$options": "i"}
    assert conditions["$or"] == [
        {"name": part},
        {"email": part},
        {"organisation": part},
        {"reference": "TCX-AB.C(D"},
    ]
    assert re.search(conditions["$or"][0]["name"]["$regex"], "x tcx-ab.c(d y")
    assert not re.search(conditions["$or"][0]["name"]["$regex"], "tcx-abxc(d")


def test_a_row_never_holds_needs_only_whether_there_are_any():
    document, _ = attendee()
    stored_row = {key: value for key, value in document.items() if key != "accessibility_needs"}
    row = domain.row({**stored_row, "has_accessibility_needs": True})
    assert tuple(row) == REGISTRATION_ROW_FIELDS
    assert row["has_accessibility_needs"] is True and row["companions"] == 1
    assert row["organisation"] is None and row["reference"] == document["reference"]
    assert "quiet" not in str(row)
    company_document, _ = company()
    assert domain.row(company_document)["organisation"] == "Sori AI"
    assert domain.row(company_document)["has_accessibility_needs"] is False
    investor_document, _ = investor()
    assert domain.row(investor_document)["organisation"] == "Seoul Impact"


def test_companions_are_counted_apart_from_needs():
    needs, companions = domain.accessibility_counts(
        [
            {
                "accessibility_needs": {"wheelchair_access": True, "guide_dog": False, "other": "x"},
                "companions": 2,
            },
            {"accessibility_needs": {"wheelchair_access": True, "live_captioning": True}},
            {"companions": 1},
            {"companions": 0},
        ]
    )
    assert needs == {"wheelchair_access": 2, "live_captioning": 1}
    assert companions == {"attendees_with_companions": 2, "companions": 3}


def test_registrations_are_counted_by_kind_and_status():
    counts = domain.registration_counts(
        [
            {"kind": "attendee", "status": "active"},
            {"kind": "attendee", "status": "active"},
            {"kind": "company", "status": "cancelled"},
            {"kind": "investor", "status": "erased"},
        ]
    )
    assert counts == {
        "attendee": {"active": 2, "cancelled": 0, "erased": 0},
        "company": {"active": 0, "cancelled": 1, "erased": 0},
        "investor": {"active": 0, "cancelled": 0, "erased": 1},
    }


def test_a_cancellation_older_than_its_retention_is_erased_and_nothing_else():
    document, _ = attendee()
    document["_v"] = 2  # as stored
    cancelled, _ = domain.cancel(document, NOW)
    erased, events = domain.erase_if_cancelled_before(cancelled, LATER, LATER)
    assert erased["status"] == "erased" and "name" not in erased and "email" not in erased
    assert [event["type"] for event in events] == ["registration.erased"]
    # cancelled since the cut-off, still active, or already erased: left as it is
    assert domain.erase_if_cancelled_before(cancelled, NOW, LATER) == (cancelled, [])
    assert domain.erase_if_cancelled_before(document, LATER, LATER) == (document, [])
    assert domain.erase_if_cancelled_before(erased, LATER, LATER) == (erased, [])
    assert domain.erase_if_cancelled_before(None, LATER, LATER) == (None, [])


def an_event(**fields) -> dict:
    return {"_id": "ev-1", "status": "open", "starts_at": "2026-03-01T05:00:00.000000Z", **fields}


def test_an_events_personal_data_is_due_to_go_its_retention_after_it_ended_or_when_asked():
    ended = an_event(ends_at="2026-03-01T09:00:00.000000Z")
    assert not domain.purge_due(ended, "2026-05-30T08:59:59.000000Z", retention_days=90)
    assert domain.purge_due(ended, "2026-05-30T09:00:00.000000Z", retention_days=90)
    # without an end time it ends with its first day in Seoul (15:00 UTC)
    assert domain.purge_due(an_event(), "2026-05-30T15:00:00.000000Z", retention_days=90)
    undated = {"_id": "ev-2", "status": "closed"}
    assert not domain.purge_due(undated, "2099-01-01T00:00:00.000000Z", retention_days=90)
    asked = {**undated, "purge_requested_at": "2026-04-01T00:00:00.000000Z"}
    assert domain.purge_due(asked, "2026-04-01T00:00:00.000000Z", retention_days=90)
    assert not domain.purge_due({**asked, "purged_at": "2026-04-01T00:01:00.000000Z"}, "2099-01-01", 90)


def test_an_organiser_may_ask_for_the_purge_only_once_nobody_is_still_to_come():
    now = "2026-04-01T00:00:00.000000Z"
    coming = an_event(starts_at="2026-06-01T05:00:00.000000Z")
    with pytest.raises(Conflict):
        domain.request_purge(coming, now)
    with pytest.raises(Conflict):
        domain.request_purge({"_id": "ev-2", "status": "open"}, now)  # open, no date yet
    for over in (an_event(), {**coming, "status": "cancelled"}, {"_id": "ev-2", "status": "closed"}):
        asked = domain.request_purge(over, now)
        assert asked["purge_requested_at"] == now
        assert domain.request_purge(asked, "2026-04-02T00:00:00.000000Z") is asked  # asked once


def test_an_event_keeps_anonymous_counts_taken_once_before_its_purge():
    census = [
        {"kind": "attendee", "status": "active", "companions": 2},
        {"kind": "attendee", "status": "cancelled", "companions": 1},
        {"kind": "company", "status": "active"},
    ]
    started = domain.purge_started(an_event(), census, "2026-06-01T00:00:00.000000Z")
    assert started["counts_at_purge"] == {
        "attendee": {"active": 1, "cancelled": 1},
        "company": {"active": 1},
        "investor": {},
        "companions": 2,
    }
    assert domain.purge_started(started, [], "2026-06-02T00:00:00.000000Z") is started


# --- an event's exports ------------------------------------------------------------------------


def stored_row(registration_id, **fields):
    """A registration as the organisers' rows read it from the store."""
    return {
        "_id": registration_id,
        "kind": "attendee",
        "status": "active",
        "name": f"Name {registration_id}",
        "email": f"{registration_id}@example.kr",
        "companions": 0,
        "has_accessibility_needs": False,
        "created_at": NOW,
        **fields,
    }


def test_the_waiting_list_is_in_line_order_with_places_in_line_and_party_sizes():
    waiting = [
        stored_row("c", admission="waiting", waiting_since=LATER),
        stored_row("b", admission="waiting", waiting_since=NOW, companions=2),
        stored_row("a", admission="waiting", waiting_since=NOW),
    ]
    rows = domain.waiting_rows(waiting)
    assert [(row["position"], row["id"], row["party_size"]) for row in rows] == [
        (1, "a", 1),
        (2, "b", 3),
        (3, "c", 1),
    ], "the id settles a tie, as the line does"
    assert rows[2]["waiting_since"] == LATER and rows[0]["reference"] == reference_of("a")
    assert set(rows[0]) == {"position", *REGISTRATION_ROW_FIELDS, "party_size", "waiting_since"}


def test_check_ins_list_only_those_checked_in_in_the_order_they_came():
    documents = [
        stored_row("late", checked_in_at=LATER, checked_in_by="door@expo.kr"),
        stored_row("absent"),
        stored_row("early", checked_in_at=NOW, checked_in_by="organiser token"),
    ]
    rows = domain.check_in_rows(documents)
    assert [(row["id"], row["checked_in_at"], row["checked_in_by"]) for row in rows] == [
        ("early", NOW, "organiser token"),
        ("late", LATER, "door@expo.kr"),
    ]
    assert domain.check_in_rows([stored_row("absent")]) == []


def needs_record(registration_id, admission, needs=None, **fields):
    return {
        "_id": registration_id,
        "status": "active",
        "name": f"Name {registration_id}",
        "admission": admission,
        "companions": 0,
        **({"accessibility_needs": {**domain.NO_NEEDS, **needs}} if needs else {}),
        **fields,
    }


def test_accessibility_preparation_counts_each_need_and_companions_apart_for_those_coming_and_waiting():
    records = [
        needs_record("a", "admitted", {"wheelchair_access": True, "other": "a quiet room"}, companions=2),
        needs_record("b", "offered", {"wheelchair_access": True, "live_captioning": True}),
        needs_record("c", "waiting", {"wheelchair_access": True}, companions=1),
        # stored before there were places: it came in with no admission
        {k: v for k, v in needs_record("e", None, {"easy_read": True}).items() if k != "admission"},
    ]
    rows = {row["item"]: (row["coming"], row["waiting"]) for row in domain.preparation_rows(records)}
    assert list(rows) == [*domain.NEEDS, "attendees_with_companions", "companions"]
    assert rows["wheelchair_access"] == (2, 1)
    assert rows["live_captioning"] == (1, 0)
    assert rows["easy_read"] == (1, 0), "no admission yet: holding places, as before there were any"
    assert rows["sign_language_interpreter"] == (0, 0)
    assert (rows["attendees_with_companions"], rows["companions"]) == ((1, 1), (2, 1))
    assert "other" not in rows and "a quiet room" not in str(rows), "free text is never counted"
    assert "Name" not in str(domain.preparation_rows(records)), "counts only"


def test_names_with_needs_list_only_those_with_needs_each_need_a_column():
    records = [
        needs_record("z", "admitted", {"sign_language_interpreter": True, "other": " a quiet room "}),
        needs_record("y", "waiting"),
        needs_record("x", "waiting", {"guide_dog": True}, carer_name="Carer", name="Ahn"),
    ]
    rows = domain.needs_rows(records)
    assert [row["id"] for row in rows] == ["x", "z"], "by name; nobody without needs"
    assert rows[0]["guide_dog"] is True and rows[0]["wheelchair_access"] is False
    assert (rows[0]["carer_name"], rows[0]["admission"]) == ("Carer", "waiting")
    assert rows[1]["other_needs"] == "a quiet room" and rows[1]["reference"] == reference_of("z")


def test_only_organisers_signed_in_with_a_listed_address_may_see_names_with_needs():
    listed = ("kim@expo.kr",)
    assert domain.may_see_names_with_needs(caller(organiser=True, organiser_email="Kim@Expo.kr"), listed)
    assert not domain.may_see_names_with_needs(caller(organiser=True, organiser_email="lee@expo.kr"), listed)
    assert not domain.may_see_names_with_needs(caller(organiser=True), listed), "the shared token"
    assert not domain.may_see_names_with_needs(caller(email="kim@expo.kr"), listed), "not an organiser"
    assert not domain.may_see_names_with_needs(caller(organiser=True, organiser_email="kim@expo.kr"), ())


def test_an_events_export_is_audited_with_the_event():
    record = domain.audit_record(caller(organiser=True), "export_waiting_list", None, NOW, event_id="e1")
    assert (record["action"], record["event_id"], record["registration_id"]) == (
        "export_waiting_list",
        "e1",
        None,
    )
    assert "event_id" not in domain.audit_record(caller(organiser=True), "export_registrations", None, NOW)


# --- companions' names ---------------------------------------------------------------------------


def test_companions_may_be_named_at_most_one_name_each_and_renamed_without_registering_again():
    document, _ = attendee()
    named, events = domain.change(document, {"companion_names": ["Lee Minho"]}, LATER)
    assert named["companion_names"] == ["Lee Minho"] and named["revision"] == document["revision"] + 1
    assert named["_id"] == document["_id"] and named["created_at"] == document["created_at"]
    assert "Lee Minho" not in str(events), "companions' names stay in registration"
    with pytest.raises(Invalid) as raised:
        domain.change(named, {"companion_names": ["Lee Minho", "Choi Yuna"]}, LATER)
    assert set(raised.value.fields) == {"companion_names"}
    # fewer companions than names: which names to keep is the person's to say
    with pytest.raises(Invalid):
        domain.change(named, {"companions": 0}, LATER)
    fewer, _ = domain.change(named, {"companions": 0, "companion_names": []}, LATER)
    assert (fewer["companions"], fewer["companion_names"]) == (0, [])
    more, _ = domain.change(named, {"companions": 3, "companion_names": ["A", "B", "C"]}, LATER)
    assert more["companion_names"] == ["A", "B", "C"]


def test_a_cancellation_forgets_the_companions_names():
    document, _ = attendee()
    named, _ = domain.change(document, {"companion_names": ["Lee Minho"]}, LATER)
    cancelled, _ = domain.cancel(named, LATER)
    assert "companion_names" not in cancelled and cancelled["companions"] == 1


# --- notification's contacts brought up to date ------------------------------------------


def stored_before_the_refresh(document: dict) -> dict:
    """A registration as an earlier version stored it: without the mark of a refresh."""
    return {key: value for key, value in document.items() if key != domain.CONTACT_REFRESHED}


def test_an_active_registration_is_refreshed_with_only_what_notification_keeps_of_it():
    document, _ = attendee()
    document = stored_before_the_refresh(
        domain.admit({**document, "carer_name": "Park Jimin", "revision": 3})
    )
    marked, events = domain.refresh_contact(document)
    # nothing of the registration changed: notification takes it at the revision it holds
    assert marked == {**document, domain.CONTACT_REFRESHED: domain.CONTACT_REFRESH}
    (event,) = events
    assert (event["type"], event["version"]) == ("registration.contact_refreshed", 1)
    parse_event(event)
    assert event["payload"] == {
        "registration_id": document["_id"],
        "kind": "attendee",
        "expo_id": "expo-2026",
        "revision": 3,
        "contact": {"name": "Park", "email": "park@example.kr", "language": "ko", "carer_name": "Park Jimin"},
        "admission": "admitted",
        "checkin_code": document["checkin_code"],
    }


def test_a_refresh_shows_a_waiting_registration_without_its_badge_and_a_company_with_its_card():
    document, _ = attendee()
    waiting = stored_before_the_refresh(domain.wait(document, NOW))
    (event,) = domain.refresh_contact(waiting)[1]
    assert (event["payload"]["admission"], event["payload"]["checkin_code"]) == ("waiting", None)
    document, _ = company()
    (event,) = domain.refresh_contact(stored_before_the_refresh(document))[1]
    assert event["payload"]["contact"]["organisation"] == "Sori AI"
    assert "tags" not in event["payload"] and "accessibility_needs" not in event["payload"]


def test_a_cancelled_registration_is_marked_refreshed_without_an_event():
    document, _ = attendee()
    cancelled, _ = domain.cancel(stored_before_the_refresh(document), LATER)
    marked, events = domain.refresh_contact(cancelled)
    assert events == [] and marked[domain.CONTACT_REFRESHED] == domain.CONTACT_REFRESH


def test_new_registrations_and_erasures_need_no_refresh_and_the_mark_is_never_shown():
    document, _ = attendee()
    assert document[domain.CONTACT_REFRESHED] == domain.CONTACT_REFRESH
    assert domain.CONTACT_REFRESHED not in domain.owner_view(document)
    tombstone, _ = domain.erase(stored_before_the_refresh({**document, "_v": 4}), LATER)
    assert tombstone[domain.CONTACT_REFRESHED] == domain.CONTACT_REFRESH
