"""The capacity benchmark: a burst for an event's last places, and how soon a cancellation's
place reaches the first in line.

``python -m bench.capacity [--smoke] [--out FILE]`` (and part of ``make bench``). The platform is
started as ``make run`` starts it; an open event with ``capacity`` places has all but ``last``
taken, then ``burst`` people register for it at once (50 at a time) through the API. Then, one
after another, ``cancellations`` admitted people cancel, and each time the first in line is
asked for (every 10 ms) until they have the place: the promotion's latency, from the
cancellation's answer to the place showing in the promoted person's registration.
"""

import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench import report
from bench.load import percentiles_ms
from shared import clock
from tests.platform import ORGANISER_TOKEN, Platform, running_platform


@dataclass(frozen=True)
class Plan:
    capacity: int
    last: int
    burst: int
    cancellations: int


FULL = Plan(capacity=300, last=10, burst=200, cancellations=10)
SMOKE = Plan(capacity=20, last=5, burst=20, cancellations=2)
POLL_SECONDS = 0.01


def run(plan: Plan) -> dict:
    with (
        tempfile.TemporaryDirectory(prefix="bench-capacity-") as var,
        running_platform(Path(var)) as platform,
    ):
        event_id = _event(platform, plan.capacity)
        with ThreadPoolExecutor(10) as pool:
            list(pool.map(lambda _: _register(platform, event_id), range(plan.capacity - plan.last)))
        started = time.monotonic()
        with ThreadPoolExecutor(50) as pool:
            burst = list(pool.map(lambda _: _register(platform, event_id), range(plan.burst)))
        burst_seconds = time.monotonic() - started
        admitted = [answer for answer in burst if answer["admission"] == "admitted"]
        waiting = [answer for answer in burst if answer["admission"] == "waiting"]
        event = platform.call("GET", f"/api/v1/organiser/events/{event_id}", ORGANISER_TOKEN).json()
        line = sorted(waiting, key=lambda answer: _read(platform, answer)["waiting_position"])
        latencies = [
            _promotion_seconds(platform, leaving, first)
            for leaving, first in zip(admitted[: plan.cancellations], line, strict=False)
        ]
    return {
        "burst": {
            "for_the_last_places": plan.last,
            "registrations": len(burst),
            "seconds": round(burst_seconds, 2),
            "admitted": len(admitted),
            "waiting": len(waiting),
            "places_taken": event["seats_taken"],
            "capacity": event["capacity"],
        },
        "promotion": {"cancellations": len(latencies), "latency_ms": percentiles_ms(sorted(latencies))},
    }


def _event(platform: Platform, capacity: int) -> str:
    answer = platform.call(
        "POST",
        "/api/v1/organiser/events",
        ORGANISER_TOKEN,
        json={
            "kind": "town_hall",
            "name_ko": "성능 시험 타운홀",
            "name_en": "Benchmark Town Hall",
            "starts_at": clock.iso_after(30 * 24 * 3600),
            "capacity": capacity,
            "status": "open",
        },
    )
    answer.raise_for_status()
    return answer.json()["id"]


def _register(platform: Platform, event_id: str) -> dict:
    body = {
        "event_id": event_id,
        "name": "정다은",
        "email": f"capacity-{uuid.uuid4().hex[:10]}@bench.example.org",
        "attendee_type": "student",
        "consents": {"privacy": True},
    }
    answer = platform.post_past_shedding("/api/v1/attendees", body, attempts=30)
    answer.raise_for_status()
    return answer.json()


def _read(platform: Platform, registration: dict) -> dict:
    path = f"/api/v1/attendees/{registration['id']}"
    return platform.call("GET", path, registration["manage_token"]).json()


def _promotion_seconds(platform: Platform, leaving: dict, first: dict) -> float:
    """Cancel ``leaving``; how long until ``first`` (the first in line) has the place."""
    cancelled = platform.call("DELETE", f"/api/v1/attendees/{leaving['id']}", leaving["manage_token"])
    cancelled.raise_for_status()
    answered = time.monotonic()
    deadline = answered + 60
    while _read(platform, first)["admission"] != "admitted":
        if time.monotonic() > deadline:
            raise RuntimeError(f"{first['id']} was not promoted within 60 s")
        time.sleep(POLL_SECONDS)
    return time.monotonic() - answered


def main() -> None:
    report.standalone("The capacity benchmark", FULL, SMOKE, run)


if __name__ == "__main__":
    main()
