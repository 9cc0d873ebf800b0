"""Capacity over HTTP, the whole platform running: a burst of 200 registrations for the last 10
places of an event never admits more than there are; the rest wait, numbered in line; a
cancellation gives its place to the first in line, who is told by e-mail. (How soon is measured
by ``python -m bench.capacity``, not asserted here.)"""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import received_mail, wait_for
from tests.e2e.test_events_api import ORGANISER_EVENTS, attendee, town_hall
from tests.platform import ORGANISER_TOKEN

pytestmark = pytest.mark.e2e

CAPACITY, TAKEN_BEFORE, BURST = 30, 20, 200


def register(platform, event_id: str) -> dict:
    """One registration, sent again while the gateway sheds load (503: nothing was written)."""
    for _ in range(30):
        answer = platform.call("POST", "/api/v1/attendees", json=attendee(event_id=event_id))
        if answer.status_code != 503:
            assert answer.status_code == 201, answer.text
            return answer.json()
        time.sleep(1)
    raise AssertionError("the gateway kept shedding load")


def test_a_burst_for_the_last_places_never_exceeds_the_capacity_and_a_cancellation_promotes(platform):
    made = platform.call(
        "POST", ORGANISER_EVENTS, ORGANISER_TOKEN, json=town_hall(status="open", capacity=CAPACITY)
    )
    assert made.status_code == 201, made.text
    event_id = made.json()["id"]
    before = [register(platform, event_id) for _ in range(TAKEN_BEFORE)]
    assert {answer["admission"] for answer in before} == {"admitted"}

    with ThreadPoolExecutor(max_workers=50) as pool:
        burst = list(pool.map(lambda _: register(platform, event_id), range(BURST)))
    admitted = [answer for answer in burst if answer["admission"] == "admitted"]
    waiting = [answer for answer in burst if answer["admission"] == "waiting"]
    print(f"\nburst of {BURST} for the last {CAPACITY - TAKEN_BEFORE} places: {len(admitted)} admitted")
    assert len(admitted) == CAPACITY - TAKEN_BEFORE and len(waiting) == BURST - len(admitted)
    counts = platform.call("GET", f"{ORGANISER_EVENTS}/{event_id}", ORGANISER_TOKEN).json()
    assert (counts["seats_taken"], counts["waiting"]) == (CAPACITY, len(waiting))

    def read(answer: dict) -> dict:
        return platform.call("GET", f"/api/v1/attendees/{answer['id']}", answer["manage_token"]).json()

    with ThreadPoolExecutor(max_workers=20) as pool:
        line = sorted(pool.map(read, waiting), key=lambda answer: answer["waiting_position"])
    assert [answer["waiting_position"] for answer in line] == list(range(1, len(waiting) + 1))
    created = {answer["id"]: answer for answer in waiting}
    first, second = created[line[0]["id"]], created[line[1]["id"]]

    cancelled = platform.call("DELETE", f"/api/v1/attendees/{admitted[0]['id']}", admitted[0]["manage_token"])
    assert cancelled.status_code == 200
    wait_for(lambda: read(first)["admission"] == "admitted", 30, message="the first in line to be promoted")
    assert read(second)["waiting_position"] == 1
    counts = platform.call("GET", f"{ORGANISER_EVENTS}/{event_id}", ORGANISER_TOKEN).json()
    assert (counts["seats_taken"], counts["waiting"]) == (CAPACITY, len(waiting) - 1)

    def mail_to(address: str) -> list:
        return [message for message in received_mail(platform.var / "mail") if address in message["To"]]

    told = wait_for(
        lambda: len(mail_to(first["email"])) == 2 and mail_to(first["email"]), 60, message="e-mails"
    )
    subjects = sorted(message["Subject"] for message in told)
    assert "대기자 명단에 등록되었습니다" in subjects[0] and "자리가 확정되었습니다" in subjects[1], subjects
