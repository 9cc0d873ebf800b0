"""Capacity and the waiting list in the real registration service and store: parties registering
at once never take more places than there are, each party is admitted whole or waits whole, in
order; a cancellation gives its places to the first in line at once; more companions need free
places; places a crash left behind are given back; one process at a time promotes a registration."""

import threading
import uuid
from collections import Counter

import pytest

from registration import domain
from registration.sensitive import Sealer
from registration.store import RegistrationStore
from shared import clock, errors
from shared.rpc import RpcClient
from tests.conftest import vouched, wait_for
from tests.integration.test_registration_events import attendee, organiser, registration, town_hall
from tests.integration.test_registration_service import SENSITIVE_DATA_KEY

__all__ = ["registration"]

CAPACITY = 10


@pytest.fixture
def event(registration):
    made = registration.call(
        "registration", "create_event", town_hall(status="open", capacity=CAPACITY), organiser()
    )
    return made["id"]


def register(client, event_id: str, companions: int = 0) -> dict:
    return client.call(
        "registration", "create", "attendee", attendee(event_id=event_id, companions=companions)
    )


def seats_by_registration(mongo, event_id: str) -> Counter:
    return Counter(
        seat["registration_id"] for seat in mongo["registration"]["seats"].find({"event_id": event_id})
    )


def test_parties_registering_at_once_never_take_more_places_than_there_are(
    registration, amqp_uri, event, mongo
):
    parties = [0, 1, 2, 3] * 6
    answers: list[dict] = []
    start = threading.Barrier(len(parties))

    def one(companions: int) -> None:
        client = RpcClient(amqp_uri, timeout=30)
        try:
            start.wait()
            answers.append(register(client, event, companions))
        finally:
            client.close()

    threads = [threading.Thread(target=one, args=(companions,)) for companions in parties]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == len(parties)

    admitted = [answer for answer in answers if answer["admission"] == "admitted"]
    waiting = [answer for answer in answers if answer["admission"] == "waiting"]
    assert len(admitted) + len(waiting) == len(parties)
    held = seats_by_registration(mongo, event)
    assert sum(held.values()) <= CAPACITY
    # every admitted party holds exactly its places, and nobody else holds any
    assert held == {answer["id"]: 1 + answer["companions"] for answer in admitted}
    assert sum(held.values()) > CAPACITY - 4, "places were left that a party of the first in line fitted"
    # the waiting are in line in the order they joined, numbered from 1
    organiser_view = [
        registration.call("registration", "get", "attendee", a["id"], organiser()) for a in waiting
    ]
    line = sorted(organiser_view, key=lambda answer: (answer["waiting_since"], answer["id"]))
    assert [answer["waiting_position"] for answer in line] == list(range(1, len(waiting) + 1))
    counts = registration.call("registration", "get_event", event, organiser())
    assert (counts["seats_taken"], counts["waiting"]) == (sum(held.values()), len(waiting))


def test_a_cancellation_promotes_the_first_in_line_whose_party_fits(registration, event, mongo):
    admitted = [register(registration, event, companions=1) for _ in range(5)]
    assert [answer["admission"] for answer in admitted] == ["admitted"] * 5
    big = register(registration, event, companions=2)
    small = register(registration, event)
    assert (big["admission"], big["waiting_position"]) == ("waiting", 1)
    assert (small["admission"], small["waiting_position"]) == ("waiting", 2)

    # two places free: the first in line needs three, so nobody jumps ahead of it
    registration.call("registration", "cancel", "attendee", admitted[0]["id"], organiser())
    assert (
        registration.call("registration", "get", "attendee", big["id"], organiser())["admission"] == "waiting"
    )
    assert (
        registration.call("registration", "get", "attendee", small["id"], organiser())["admission"]
        == "waiting"
    )

    # four free: the first in line gets three at once, the next one the last place
    registration.call("registration", "cancel", "attendee", admitted[1]["id"], organiser())
    promoted = registration.call("registration", "get", "attendee", big["id"], organiser())
    assert promoted["admission"] == "admitted" and "waiting_position" not in promoted
    assert (
        registration.call("registration", "get", "attendee", small["id"], organiser())["admission"]
        == "admitted"
    )
    held = seats_by_registration(mongo, event)
    assert (held[big["id"]], held[small["id"]], sum(held.values())) == (3, 1, CAPACITY)


def test_more_companions_need_free_places_and_fewer_give_them_back(registration, event, mongo):
    first = register(registration, event, companions=4)
    second = register(registration, event, companions=4)
    mine = vouched({"token": first["manage_token"]})
    with pytest.raises(errors.Conflict, match="no free places"):
        registration.call("registration", "update", "attendee", first["id"], {"companions": 5}, mine)
    assert seats_by_registration(mongo, event)[first["id"]] == 5

    registration.call("registration", "update", "attendee", second["id"], {"companions": 1}, organiser())
    changed = registration.call("registration", "update", "attendee", first["id"], {"companions": 5}, mine)
    assert changed["companions"] == 5
    assert seats_by_registration(mongo, event) == {first["id"]: 6, second["id"]: 2}


def test_places_claimed_for_no_registration_are_given_back_by_the_sweeper(registration, event, mongo):
    long_ago = clock.iso_after(-120)
    mongo["registration"]["seats"].insert_one(
        {"_id": f"{event}#9", "event_id": event, "registration_id": "crashed", "claimed_at": long_ago}
    )

    def swept():
        return mongo["registration"]["seats"].count_documents({"registration_id": "crashed"}) == 0

    wait_for(swept, 90, interval=1, message="the sweeper")


def test_one_process_at_a_time_promotes_a_registration(mongo):
    store = RegistrationStore(
        mongo["registration"],
        Sealer(SENSITIVE_DATA_KEY),
        domain.default_event("expo", "박람회", "Expo", clock.now_iso()),
    )
    registration_id = f"waiting-{uuid.uuid4().hex[:8]}"
    # as the services' timers read waiting registrations: for an event with no capacity, so none
    # of them promotes it
    waiting = {"status": "active", "event_id": "no-such-event", "waiting_since": clock.now_iso()}
    registrations = mongo["registration"]["registrations"]
    registrations.insert_one({"_id": registration_id, "admission": "waiting", "_v": 1, **waiting})
    now, until = clock.now_iso(), clock.iso_after(10)
    results: list[bool] = []
    start = threading.Barrier(8)

    def take() -> None:
        start.wait()
        results.append(store.take_promotion(registration_id, now, until))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    # a turn given up, or over, is anyone's again
    store.give_up_promotion(registration_id)
    assert store.take_promotion(registration_id, now, clock.iso_after(-1))
    assert store.take_promotion(registration_id, clock.now_iso(), until)
    registrations.delete_one({"_id": registration_id})


def test_a_capacity_set_later_gives_places_to_those_admitted_before_in_order(registration, mongo):
    event = registration.call(
        "registration", "create_event", town_hall(status="open", capacity=None), organiser()
    )
    first, second, third = (
        registration.call(
            "registration", "create", "attendee", attendee(event_id=event["id"], companions=companions)
        )
        for companions in (0, 2, 0)
    )
    assert seats_by_registration(mongo, event["id"]) == {}
    changed = registration.call("registration", "update_event", event["id"], {"capacity": 4}, organiser())
    assert (changed["seats_taken"], changed["waiting"]) == (4, 0)
    assert seats_by_registration(mongo, event["id"]) == {first["id"]: 1, second["id"]: 3}
    # admitted before there was a capacity, the third stays admitted; a newcomer waits
    assert (
        registration.call("registration", "get", "attendee", third["id"], organiser())["admission"]
        == "admitted"
    )
    later = registration.call("registration", "create", "attendee", attendee(event_id=event["id"]))
    assert later["admission"] == "waiting"


def test_registrations_stored_before_there_were_places_take_them_or_wait_in_order(mongo):
    store = RegistrationStore(
        mongo["registration"],
        Sealer(SENSITIVE_DATA_KEY),
        domain.default_event("expo", "박람회", "Expo", clock.now_iso()),
    )
    event = {"_id": f"earlier-{uuid.uuid4().hex[:8]}", "capacity": 2}
    earlier = [
        {"_id": f"{event['_id']}-{n}", "event_id": event["_id"], "status": "active", "companions": 0, "_v": 1}
        for n in range(3)
    ]
    for n, document in enumerate(earlier):
        document["created_at"] = f"2026-01-0{n + 1}T00:00:00.000000Z"
    mongo["registration"]["registrations"].insert_many(earlier)
    try:
        assert store.seat_unseated(event, clock.now_iso()) == 2
        assert store.seat_unseated(event, clock.now_iso()) == 0, "done twice, it changes nothing"
        stored = {
            d["_id"]: d for d in mongo["registration"]["registrations"].find({"event_id": event["_id"]})
        }
        assert [stored[d["_id"]]["admission"] for d in earlier] == ["admitted", "admitted", "waiting"]
        assert stored[earlier[2]["_id"]]["waiting_since"] == earlier[2]["created_at"]
    finally:
        mongo["registration"]["registrations"].delete_many({"event_id": event["_id"]})
        mongo["registration"]["seats"].delete_many({"event_id": event["_id"]})
