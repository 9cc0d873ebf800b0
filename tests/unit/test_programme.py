"""Events of the programme: the schemas organisers' input goes through, and the registration
service's pure rules (what a new or changed event may be, when one takes registrations, what each
reader sees, how registrations stored before there were events are read)."""

import itertools

import pytest
from marshmallow import ValidationError

from registration import domain
from shared.contracts.events import parse_event
from shared.contracts.programme import EVENT_STATUSES, EventSchema
from shared.contracts.registration import load_registration
from shared.errors import Conflict, Invalid, NotFound

NOW = "2026-05-01T00:00:00.000000Z"
# 21 June 2026, 14:00 to 17:00 in Seoul (UTC+9)
STARTS, ENDS = "2026-06-21T05:00:00.000000Z", "2026-06-21T08:00:00.000000Z"
OPENS, CLOSES = "2026-05-10T00:00:00.000000Z", "2026-06-20T09:00:00.000000Z"


def town_hall(**fields) -> dict:
    data = {
        "kind": "town_hall",
        "name_ko": "6월 기술동행 타운홀",
        "name_en": "June Tech Companion Town Hall",
        "starts_at": STARTS,
        "ends_at": ENDS,
        "venue": {"name_ko": "서울시청 다목적홀", "step_free_entrance": True, "hearing_loop": None},
        "capacity": 150,
        **fields,
    }
    return domain.new_programme_event(data, NOW)


# --- the schemas ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2026-06-21 14:00", STARTS),  # as organisers type it: Seoul time
        ("2026-06-21T14:00", STARTS),
        ("2026-06-21T14:00:00+09:00", STARTS),
        ("2026-06-21T05:00:00Z", STARTS),
        ("2026-06-21T06:00:00+01:00", STARTS),
        (" 2026-06-21 14:00 ", STARTS),
    ],
)
def test_times_are_read_with_their_offset_or_as_seoul_time_and_stored_in_utc(given, stored):
    assert EventSchema(partial=True).load({"starts_at": given}) == {"starts_at": stored}


@pytest.mark.parametrize(
    "given", ["tomorrow", "21/06/2026 14:00", "2026-13-01 10:00", "", "2206-06-21 14:00", "1" * 500, 20260621]
)
def test_a_time_that_is_not_one_is_refused_with_an_example(given):
    with pytest.raises(ValidationError) as refused:
        EventSchema(partial=True).load({"starts_at": given})
    assert list(refused.value.messages) == ["starts_at"]


def test_an_event_needs_its_kind_and_both_names_and_refuses_what_it_does_not_know():
    with pytest.raises(ValidationError) as refused:
        EventSchema().load({"kind": "party", "capacity": 0, "colour": "red", "venue": {"lift": True}})
    assert set(refused.value.messages) == {"kind", "name_ko", "name_en", "capacity", "colour", "venue"}
    assert EventSchema().load({"kind": "expo", "name_ko": "박람회", "name_en": "Expo"}) == {
        "kind": "expo",
        "name_ko": "박람회",
        "name_en": "Expo",
    }


@pytest.mark.parametrize(
    "field",
    ["name_ko", "starts_at", "capacity", "status", "venue", "kind"],
)
def test_operator_objects_are_refused_in_every_field(field):
    with pytest.raises(ValidationError) as refused:
        EventSchema(partial=True).load({field: {"$ne": None}})
    assert field in refused.value.messages


def test_a_venue_fact_is_true_false_or_not_known_and_nothing_else():
    loaded = EventSchema(partial=True).load(
        {"venue": {"step_free_entrance": True, "accessible_toilets": False, "hearing_loop": None}}
    )
    assert loaded["venue"] == {"step_free_entrance": True, "accessible_toilets": False, "hearing_loop": None}
    with pytest.raises(ValidationError):
        EventSchema(partial=True).load({"venue": {"hearing_loop": "yes"}})


def test_a_registration_names_its_event_and_the_earlier_expo_id_is_still_read():
    body = {
        "name": "Kim",
        "email": "kim@example.kr",
        "attendee_type": "citizen",
        "consents": {"privacy": True},
    }
    assert load_registration("attendee", {**body, "event_id": "town-hall-7"})["event_id"] == "town-hall-7"
    assert load_registration("attendee", {**body, "expo_id": "expo-2026"})["expo_id"] == "expo-2026"
    with pytest.raises(ValidationError):
        load_registration("attendee", {**body, "event_id": {"$ne": None}})


# --- new events and their changes ----------------------------------------------------------


def test_a_new_event_is_a_draft_with_its_venue_as_given_and_no_empty_facts():
    event = town_hall()
    assert event["status"] == "draft" and event["revision"] == 1 and event["created_at"] == NOW
    assert event["venue"] == {"name_ko": "서울시청 다목적홀", "step_free_entrance": True}
    assert domain.new_programme_event({"kind": "expo", "name_ko": "가", "name_en": "A"}, NOW)["venue"] == {}


def test_a_new_event_may_be_created_open_but_only_with_its_start_and_never_closed():
    assert town_hall(status="open")["status"] == "open"
    with pytest.raises(Invalid) as refused:
        town_hall(status="open", starts_at=None, ends_at=None)
    assert refused.value.fields == {"starts_at": [domain.NEEDS_START]}
    for status in ("closed", "cancelled"):
        with pytest.raises(Invalid) as refused:
            town_hall(status=status)
        assert list(refused.value.fields) == ["status"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ends_at": STARTS}, "ends_at"),
        ({"starts_at": None}, "ends_at"),
        ({"registration_opens_at": CLOSES, "registration_closes_at": OPENS}, "registration_closes_at"),
        ({"registration_closes_at": "2026-06-21T09:00:00.000000Z"}, "registration_closes_at"),
    ],
)
def test_times_that_do_not_agree_are_refused_on_the_field_to_fix(fields, field):
    with pytest.raises(Invalid) as refused:
        town_hall(**fields)
    assert list(refused.value.fields) == [field]


def test_a_draft_may_have_no_date_at_all():
    event = domain.new_programme_event({"kind": "town_hall", "name_ko": "가", "name_en": "A"}, NOW)
    assert "starts_at" not in event and domain.registration_state(event, NOW) == "draft"


@pytest.mark.parametrize(("before", "after"), list(itertools.permutations(EVENT_STATUSES, 2)))
def test_which_status_may_follow_which(before, after):
    event = {**town_hall(), "status": before}
    allowed = {
        ("draft", "open"),
        ("draft", "cancelled"),
        ("open", "closed"),
        ("open", "cancelled"),
        ("closed", "open"),
        ("closed", "cancelled"),
    }
    if (before, after) in allowed:
        assert domain.change_programme_event(event, {"status": after}, NOW)["status"] == after
    else:
        with pytest.raises(Invalid) as refused:
            domain.change_programme_event(event, {"status": after}, NOW)
        assert list(refused.value.fields) == ["status"]


def test_a_change_keeps_what_it_does_not_name_changes_the_venue_field_by_field_and_null_removes():
    event = town_hall()
    changed = domain.change_programme_event(
        event, {"venue": {"hearing_loop": True, "step_free_entrance": None}, "capacity": None}, "later"
    )
    assert changed["venue"] == {"name_ko": "서울시청 다목적홀", "hearing_loop": True}
    assert "capacity" not in changed and changed["name_en"] == event["name_en"]
    assert changed["revision"] == 2 and changed["updated_at"] == "later"
    assert domain.change_programme_event(changed, {"venue": None}, "later")["venue"] == {}


def test_a_change_that_changes_nothing_is_no_change():
    event = town_hall()
    assert domain.change_programme_event(event, {"name_en": event["name_en"], "venue": {}}, "later") is event


def test_the_default_expo_stays_open_without_a_date_until_it_is_closed():
    expo = domain.default_event("expo-2026", "2026 기술동행 박람회", "Tech Companion Expo 2026", NOW)
    assert expo["status"] == "open" and domain.registration_state(expo, NOW) == "open"
    renamed = domain.change_programme_event(expo, {"name_en": "Tech Companion Expo"}, NOW)
    assert renamed["status"] == "open"
    closed = domain.change_programme_event(renamed, {"status": "closed"}, NOW)
    with pytest.raises(Invalid) as refused:
        domain.change_programme_event(closed, {"status": "open"}, NOW)
    assert list(refused.value.fields) == ["starts_at"]
    dated = domain.change_programme_event(renamed, {"starts_at": STARTS}, NOW)
    with pytest.raises(Invalid):
        domain.change_programme_event(dated, {"starts_at": None}, NOW)


# --- taking registrations ------------------------------------------------------------------


def test_an_open_event_takes_registrations_inside_its_window_only():
    event = town_hall(status="open", registration_opens_at=OPENS, registration_closes_at=CLOSES)
    assert domain.registration_state(event, "2026-05-09T23:59:59.000000Z") == "not_yet_open"
    assert domain.registration_state(event, OPENS) == "open"
    assert domain.registration_state(event, CLOSES) == "closed"
    for status in ("closed", "cancelled"):
        assert domain.registration_state({**event, "status": status}, "2026-05-20T00:00:00.000000Z") == status


def test_without_a_closing_time_registration_closes_when_the_event_ends():
    event = town_hall(status="open")
    assert domain.registration_state(event, "2026-06-21T07:59:59.000000Z") == "open"
    assert domain.registration_state(event, ENDS) == "closed"
    assert domain.is_past(event, ENDS) and not domain.is_past(event, STARTS)


def test_an_event_without_an_end_ends_at_the_end_of_its_day_in_seoul():
    # 23:00 in Seoul on 21 June is 14:00 UTC; the day ends at 15:00 UTC
    event = town_hall(starts_at="2026-06-21T14:00:00.000000Z", ends_at=None)
    assert domain.ends_of(event) == "2026-06-21T15:00:00.000000Z"
    assert domain.ends_of(domain.default_event("e", "가", "A", NOW)) is None


def test_registering_for_an_event_that_takes_none_says_why():
    event = town_hall(status="open", registration_opens_at=OPENS)
    with pytest.raises(Conflict) as refused:
        domain.require_taking_registrations(event, event["_id"], NOW)
    assert refused.value.message == "Registration for this event opens at 2026-05-10 09:00 (Seoul time)."
    with pytest.raises(Conflict) as refused:
        domain.require_taking_registrations({**event, "status": "cancelled"}, event["_id"], NOW)
    assert refused.value.message == domain.REFUSALS["cancelled"]
    for unseen in (None, {**event, "status": "draft"}):
        with pytest.raises(NotFound):
            domain.require_taking_registrations(unseen, "town-hall", NOW)
    domain.require_taking_registrations(event, event["_id"], "2026-05-11T00:00:00.000000Z")


# --- what readers see ----------------------------------------------------------------------


def test_everyone_sees_events_that_are_not_drafts_and_not_over_the_soonest_first():
    later = town_hall(status="open", starts_at="2026-08-21T05:00:00.000000Z", ends_at=None)
    sooner = town_hall(status="open")
    undated = domain.default_event("expo-2026", "박람회", "Expo", NOW)
    draft = town_hall()
    assert [e["_id"] for e in domain.programme_order([undated, later, sooner])] == [
        sooner["_id"],
        later["_id"],
        undated["_id"],
    ]
    assert [domain.is_listed(e, NOW) for e in (later, sooner, undated, draft)] == [True, True, True, False]
    assert not domain.is_listed(sooner, "2026-06-22T00:00:00.000000Z")


def test_the_public_view_has_no_capacity_or_history_and_the_organisers_view_has_counts():
    event = town_hall(status="open")
    public = domain.public_event_view(event, NOW)
    assert public["id"] == event["_id"] and public["registration_state"] == "open" and not public["past"]
    assert public["venue"]["name_ko"] == "서울시청 다목적홀"
    assert not {"capacity", "revision", "created_at", "_v", "outbox"} & set(public)
    organisers = domain.organiser_event_view(event, NOW, None)
    assert organisers["capacity"] == 150
    assert organisers["registrations"] == dict.fromkeys(domain.COUNTED, 0)
    assert organisers["next_statuses"] == ["closed", "cancelled"]


def test_registrations_are_counted_per_event_and_one_stored_before_events_is_the_default_expos():
    records = [
        {"kind": "attendee", "status": "active", "companions": 2, "event_id": "th", "checked_in_at": NOW},
        {"kind": "company", "status": "active", "event_id": "th"},
        {"kind": "attendee", "status": "cancelled", "companions": 1, "event_id": "th", "checked_in_at": NOW},
        {"kind": "investor", "status": "active"},
    ]
    counts = domain.counts_by_event(records, "expo-2026")
    assert counts["th"] == {
        "attendee": 1,
        "company": 1,
        "investor": 0,
        "companions": 2,
        "total": 2,
        "checked_in": 1,
        "checked_in_people": 3,
    }
    assert counts["expo-2026"]["investor"] == 1


# --- registrations and their event ---------------------------------------------------------


def test_a_registration_is_for_one_event_and_its_events_name_it():
    data = {"name": "Kim", "email": "Kim@Example.kr", "language": "ko", "consents": {"privacy": True}}
    document, events = domain.register(
        "attendee", {**data, "attendee_type": "citizen", "event_id": "th"}, "th", "hash", NOW
    )
    assert document["event_id"] == "th" and document["active_key"] == "th/attendee/kim@example.kr"
    assert "expo_id" not in document
    assert parse_event(events[0]).payload["expo_id"] == "th"


def test_a_registration_stored_before_events_is_read_with_its_expo_as_its_event():
    stored = {"_id": "r1", "kind": "company", "status": "active", "expo_id": "expo-2026"}
    upgraded = domain.upgrade(stored)
    assert upgraded["event_id"] == "expo-2026" and "expo_id" not in upgraded
    tombstone, _ = domain.erase({**upgraded, "_v": 2, "created_at": NOW, "revision": 3}, NOW)
    assert tombstone["event_id"] == "expo-2026"


# --- what everyone else is told of an event ----------------------------------------------------


def announced(before, after):
    (event,) = domain.programme_event_changed(before, after)
    return parse_event(event)


def test_a_new_event_is_announced_with_its_public_fields_only():
    event = town_hall()
    told = announced(None, event)
    assert told.type == "registration.programme_event_changed"
    payload = told.payload
    assert payload["programme_event_id"] == event["_id"] and payload["revision"] == 1
    assert (payload["name_en"], payload["starts_at"], payload["ends_at"]) == (event["name_en"], STARTS, ENDS)
    assert payload["venue"]["name_ko"] == "서울시청 다목적홀" and payload["status"] == "draft"
    assert payload["changes"] == [] and payload["previous"] is None
    assert "capacity" not in payload and "created_at" not in payload


def test_a_change_nobody_sees_is_not_announced():
    event = {**town_hall(), "status": "open"}
    assert (
        domain.programme_event_changed(event, domain.change_programme_event(event, {"capacity": 10}, NOW))
        == []
    )


def test_a_cancelled_open_event_is_news_to_everyone_registered():
    event = {**town_hall(), "status": "open"}
    told = announced(event, domain.change_programme_event(event, {"status": "cancelled"}, NOW))
    assert told.payload["changes"] == ["cancelled"] and told.payload["revision"] == 2


def test_a_new_start_or_another_venue_is_a_move_once_people_may_have_registered():
    event = {**town_hall(), "status": "open"}
    later = "2026-06-28T05:00:00.000000Z"
    moved = announced(event, domain.change_programme_event(event, {"starts_at": later, "ends_at": None}, NOW))
    assert moved.payload["changes"] == ["starts_at"]
    assert moved.payload["previous"]["starts_at"] == STARTS and moved.payload["starts_at"] == later
    elsewhere = domain.change_programme_event(event, {"venue": {"name_ko": "서울시민청"}}, NOW)
    told = announced(event, elsewhere)
    assert told.payload["changes"] == ["venue"]
    assert told.payload["previous"]["venue"]["name_ko"] == "서울시청 다목적홀"


def test_filling_in_the_venue_or_its_access_facts_or_moving_a_draft_is_no_move():
    event = {**town_hall(), "status": "open"}
    filled = domain.change_programme_event(
        event,
        {"venue": {"name_en": "Seoul City Hall", "hearing_loop": True, "subway_exit_ko": "5번 출구"}},
        NOW,
    )
    assert announced(event, filled).payload["changes"] == []
    draft = town_hall()
    later = domain.change_programme_event(
        draft, {"starts_at": "2026-06-28T05:00:00.000000Z", "ends_at": None}, NOW
    )
    assert announced(draft, later).payload["changes"] == []
    cancelled_draft = domain.change_programme_event(draft, {"status": "cancelled"}, NOW)
    assert announced(draft, cancelled_draft).payload["changes"] == []
