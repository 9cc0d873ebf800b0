"""The pure rules of capacity and the waiting list: a party's places, which free places a claim
reaches for, which it gives back, promotion and the place in line."""

import random

import pytest

from registration import domain
from shared.errors import Conflict

NOW = "2026-08-01T10:00:00.000000Z"
LATER = "2026-08-01T10:05:00.000000Z"


def registration(**fields) -> dict:
    document, _ = domain.register(
        "attendee",
        {
            "name": "정다은",
            "email": "daeun@example.kr",
            "attendee_type": "student",
            "language": "ko",
            "consents": {"privacy": True},
            **fields,
        },
        "town-hall",
        "hash",
        NOW,
    )
    return {**document, "_v": 1}


def test_a_party_is_the_person_and_their_companions():
    assert domain.party_size(registration()) == 1
    assert domain.party_size(registration(companions=3)) == 4
    assert domain.party_size({"kind": "company"}) == 1


def test_only_an_event_with_a_capacity_counts_places():
    assert domain.has_capacity({"capacity": 10})
    assert domain.has_capacity({"capacity": 0})
    assert not domain.has_capacity({"capacity": None}) and not domain.has_capacity({})
    assert not domain.has_capacity(None)


def test_a_claim_reaches_only_for_free_places_and_never_more_than_there_are():
    rng = random.Random(1)
    chosen = domain.choose_seats(10, {1, 2, 3}, 4, rng)
    assert len(chosen) == 4 and len(set(chosen)) == 4 and not set(chosen) & {1, 2, 3}
    assert all(1 <= number <= 10 for number in chosen)
    assert sorted(domain.choose_seats(10, set(range(1, 8)), 5, rng)) == [8, 9, 10]
    assert domain.choose_seats(10, set(range(1, 11)), 1, rng) == []


def test_places_have_ids_per_event_and_number():
    assert domain.seat_id("town-hall", 7) == "town-hall#7"
    assert domain.seat_number("town#hall#7") == 7


def test_the_surplus_of_a_party_is_the_same_highest_places_for_every_process():
    held = ["e#12", "e#3", "e#7", "e#1"]
    assert domain.surplus_seats(held, 2) == ["e#7", "e#12"]
    assert domain.surplus_seats(list(reversed(held)), 2) == ["e#7", "e#12"]
    assert domain.surplus_seats(held, 4) == []


def test_a_newcomer_is_admitted_or_waits_from_now():
    assert domain.admit(registration())["admission"] == "admitted"
    waiting = domain.wait(registration(), NOW)
    assert waiting["admission"] == "waiting" and waiting["waiting_since"] == NOW


def test_promotion_admits_a_waiting_registration_once_and_tells_everyone():
    waiting = domain.wait(registration(), NOW)
    promoted, events = domain.promote(waiting, LATER)
    assert promoted["admission"] == "admitted" and "waiting_since" not in promoted
    assert promoted["revision"] == waiting["revision"] + 1 and promoted["admitted_at"] == LATER
    assert [event["type"] for event in events] == ["registration.updated"]
    assert domain.promote(promoted, LATER) == (promoted, [])


def test_a_cancelled_or_gone_registration_is_not_promoted():
    cancelled, _ = domain.cancel(domain.wait(registration(), NOW), LATER)
    assert "admission" not in cancelled and "waiting_since" not in cancelled
    assert domain.promote(cancelled, LATER) == (cancelled, [])
    assert domain.promote(None, LATER) == (None, [])


def test_the_line_is_in_order_of_joining_and_the_position_counts_those_ahead():
    first = {**domain.wait(registration(), NOW), "_id": "b"}
    tied = {**domain.wait(registration(), NOW), "_id": "c"}
    last = {**domain.wait(registration(), LATER), "_id": "a"}
    line = domain.waiting_line([last, tied, first])
    assert [document["_id"] for document in line] == ["b", "c", "a"]
    assert [domain.waiting_position(document, line) for document in (first, tied, last)] == [1, 2, 3]
    assert domain.waiting_position(domain.admit(registration()), line) is None


def test_organisers_see_places_taken_and_the_number_waiting():
    event = domain.default_event("expo", "박람회", "Expo", NOW)
    view = domain.organiser_event_view({**event, "capacity": 10}, NOW, None, (7, 2))
    assert (view["capacity"], view["seats_taken"], view["waiting"]) == (10, 7, 2)
    assert domain.organiser_event_view(event, NOW, None)["seats_taken"] == 0


def test_with_a_hold_a_promotion_offers_the_places_until_a_deadline():
    offered, events = domain.promote(domain.wait(registration(), NOW), NOW, hold_minutes=30)
    assert offered["admission"] == "offered" and offered["offer_expires_at"] == "2026-08-01T10:30:00.000000Z"
    payload = events[0]["payload"]
    assert payload["promoted"] is True and payload["offer_expires_at"] == offered["offer_expires_at"]
    assert domain.promote(offered, NOW, hold_minutes=30) == (offered, [])


def test_an_offer_is_confirmed_once_and_only_in_time():
    offered, _ = domain.promote(domain.wait(registration(), NOW), NOW, hold_minutes=30)
    confirmed, events = domain.confirm(offered, LATER)
    assert confirmed["admission"] == "admitted" and "offer_expires_at" not in confirmed
    assert events[0]["payload"]["admission"] == "admitted" and not events[0]["payload"].get("promoted")
    assert domain.confirm(confirmed, LATER) == (confirmed, [])
    with pytest.raises(Conflict, match="not confirmed in time"):
        domain.confirm(offered, "2026-08-01T10:30:00.000000Z")
    with pytest.raises(Conflict, match="no offered place"):
        domain.confirm(domain.wait(registration(), NOW), LATER)


def test_an_offer_not_confirmed_in_time_lapses_and_the_registration_is_cancelled():
    offered, _ = domain.promote(domain.wait(registration(), NOW), NOW, hold_minutes=30)
    assert domain.lapse(offered, LATER) == (offered, [])
    lapsed, events = domain.lapse(offered, "2026-08-01T10:30:00.000000Z")
    assert lapsed["status"] == "cancelled" and "admission" not in lapsed and "offer_expires_at" not in lapsed
    assert [event["type"] for event in events] == ["registration.cancelled"]
    assert domain.lapse(lapsed, "2026-08-02T00:00:00.000000Z") == (lapsed, [])
