"""The registration process killed (-9) while cancellations give places to a waiting list: once
it is back, every place freed goes to the next in line, in order, each person promoted once and
e-mailed once, and no place is held by nobody or taken twice."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pymongo import MongoClient

from tests.conftest import received_mail, wait_for
from tests.e2e.test_events_api import ORGANISER_EVENTS, attendee, town_hall
from tests.fault.test_faults import only_child, restarted
from tests.platform import ORGANISER_TOKEN, running_platform

pytestmark = pytest.mark.fault

CAPACITY, WAITING, CANCELLED = 20, 30, 15


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with running_platform(tmp_path_factory.mktemp("var")) as running:
        yield running


def test_a_registration_process_killed_mid_promotion_loses_no_place_and_promotes_once(platform):
    made = platform.call(
        "POST", ORGANISER_EVENTS, ORGANISER_TOKEN, json=town_hall(status="open", capacity=CAPACITY)
    )
    event_id = made.json()["id"]
    people = [
        platform.call("POST", "/api/v1/attendees", json=attendee(event_id=event_id)).json() for _ in range(50)
    ]
    admitted, line = people[:CAPACITY], people[CAPACITY:]
    assert {person["admission"] for person in admitted} == {"admitted"}
    assert [person["waiting_position"] for person in line] == list(range(1, WAITING + 1))

    def cancel(person: dict) -> int:
        return platform.call(
            "DELETE", f"/api/v1/attendees/{person['id']}", person["manage_token"]
        ).status_code

    pid = only_child(platform, "registration.service")
    with ThreadPoolExecutor(max_workers=CANCELLED) as pool:
        answers = pool.map(cancel, admitted[:CANCELLED])
        time.sleep(0.05)  # the cancellations and their promotions are under way
        os.kill(pid, signal.SIGKILL)
        statuses = list(answers)
    print(f"\ncancellations answered while registration was killed: {statuses}")
    restarted(platform, "registration.service", pid)
    # a cancellation that got no answer is sent again (cancelling twice changes nothing)
    for person, status in zip(admitted[:CANCELLED], statuses, strict=True):
        if status != 200:
            wait_for(lambda person=person: cancel(person) == 200, 30, interval=1, message="the cancellation")

    def read(person: dict) -> dict:
        return platform.call("GET", f"/api/v1/attendees/{person['id']}", person["manage_token"]).json()

    promoted, still_waiting = line[:CANCELLED], line[CANCELLED:]
    # places a killed request left held by a cancelled registration are given back by the sweeper
    started = time.monotonic()
    wait_for(
        lambda: all(read(person)["admission"] == "admitted" for person in promoted),
        150,
        interval=1,
        message="the first in line promoted",
    )
    print(f"every place freed was given on within {time.monotonic() - started:.1f} s of the restart")
    assert [read(person)["waiting_position"] for person in still_waiting] == list(
        range(1, len(still_waiting) + 1)
    )

    client = MongoClient(platform.mongo_uri)
    try:
        seats = list(client["registration"]["seats"].find({"event_id": event_id}))
    finally:
        client.close()
    holders = sorted(seat["registration_id"] for seat in seats)
    expected = sorted(person["id"] for person in [*admitted[CANCELLED:], *promoted])
    assert holders == expected, "each admitted person holds one place, and nobody else any"

    def promotion_mail(person: dict) -> list:
        return [
            message
            for message in received_mail(platform.var / "mail")
            if person["email"] in message["To"] and "자리가 확정" in message["Subject"]
        ]

    wait_for(lambda: all(promotion_mail(person) for person in promoted), 60, message="the promotion e-mails")
    assert all(len(promotion_mail(person)) == 1 for person in promoted)
    assert not any(promotion_mail(person) for person in still_waiting)
