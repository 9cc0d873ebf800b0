"""The door benchmark: how fast a badge scan answers once an event has 10,000 registrations.

``python -m bench.checkin [--smoke] [--out FILE]`` (and part of ``make bench``). The platform is
started as ``make run`` starts it; an open event without a capacity (everyone admitted, with a
badge; claiming places is the rush benchmark's concern, not the door's) is filled with
``registrations`` attendees through the API (ten at a time), and ``doors`` members of staff sign
in with their e-mailed links. Then, as at the opening of the doors, each door scans the next
badge the moment the last one answered (no pause: a queue of people at every door), through the
request the check-in page's script sends (the door's answer, with the counts, as JSON), until
``scans`` badges are checked in; then ``repeats`` badges already checked in are scanned again
("already checked in at ..."). The REST API's check-in (for programs) is measured the same way
on ``api_scans`` other badges.

Latency is from sending a scan to its whole answer: p50, p95 and p99 over every scan of a kind.
"""

import asyncio
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import report
from bench.load import percentiles_ms
from bench.pages import CSRF, signed_in_cookies
from shared import clock
from tests.platform import ORGANISER_TOKEN, Platform, running_platform

STAFF = "door-{number}@bench.example.org"


@dataclass(frozen=True)
class Plan:
    registrations: int
    doors: int
    scans: int
    repeats: int
    api_scans: int


FULL = Plan(registrations=10_000, doors=4, scans=2000, repeats=400, api_scans=1000)
SMOKE = Plan(registrations=60, doors=2, scans=20, repeats=10, api_scans=10)


def run(plan: Plan) -> dict:
    staff = [STAFF.format(number=number) for number in range(plan.doors)]
    with (
        tempfile.TemporaryDirectory(prefix="bench-checkin-") as var,
        running_platform(Path(var), ORGANISER_EMAILS=",".join(staff)) as platform,
    ):
        event_id = _event(platform)
        started = time.monotonic()
        codes = fill(platform, event_id, plan.registrations)
        filled_seconds = time.monotonic() - started
        doors = [signed_in_cookies(platform, address) for address in staff]
        first, later = codes[: plan.scans], codes[plan.scans : plan.scans + plan.api_scans]
        page_url = f"{platform.url}/organiser/events/{event_id}/check-in"
        scans = asyncio.run(scan_at_doors(page_url, doors, first, "checked_in"))
        repeats = asyncio.run(scan_at_doors(page_url, doors, first[: plan.repeats], "already_checked_in"))
        api = asyncio.run(scan_by_api(platform, event_id, plan.doors, later))
        counts = platform.call(
            "GET", f"/api/v1/organiser/events/{event_id}/check-ins", ORGANISER_TOKEN
        ).json()
    return {
        "filled": {"registrations": len(codes), "seconds": round(filled_seconds, 1)},
        "page_first_scans": scans,
        "page_repeat_scans": repeats,
        "api_first_scans": api,
        "checked_in_at_the_end": counts["checked_in"],
    }


def _event(platform: Platform) -> str:
    answer = platform.call(
        "POST",
        "/api/v1/organiser/events",
        ORGANISER_TOKEN,
        json={
            "kind": "expo",
            "name_ko": "성능 시험 박람회",
            "name_en": "Benchmark Expo",
            # under way: registration stays open until it ends
            "starts_at": clock.iso_after(-3600),
            "ends_at": clock.iso_after(8 * 3600),
            "status": "open",
        },
    )
    answer.raise_for_status()
    return answer.json()["id"]


def fill(platform: Platform, event_id: str, registrations: int) -> list[str]:
    """Attendees through the API, ten at a time; answers their check-in codes."""

    def register(number: int) -> str:
        body = {
            "event_id": event_id,
            "name": f"관람객 {number}",
            "email": f"door-{uuid.uuid4().hex[:10]}@bench.example.org",
            "attendee_type": "citizen",
            "companions": number % 3,
            "consents": {"privacy": True, "sensitive": number % 10 == 0},
        }
        if number % 10 == 0:
            body["accessibility_needs"] = {"wheelchair_access": True}
        answer = platform.post_past_shedding("/api/v1/attendees", body)
        answer.raise_for_status()
        return answer.json()["checkin_code"]

    with ThreadPoolExecutor(10) as pool:
        return list(pool.map(register, range(registrations)))


async def scan_at_doors(page_url: str, doors: list[dict], codes: list[str], expected: str) -> dict:
    """Each door (its staff's cookies) scans the next of ``codes`` as soon as its last answered."""
    queue = list(codes)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}

    async def door(cookies: dict) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=30)) as session:
            session.cookie_jar.update_cookies(cookies)
            async with session.get(page_url) as page:
                token = CSRF.search(await page.text()).group(1)
            while queue:
                code = queue.pop()
                started = time.monotonic()
                async with session.post(
                    page_url, data={"csrf_token": token, "code": code}, headers={"Accept": "application/json"}
                ) as response:
                    outcome = (
                        (await response.json())["outcome"] if response.status == 200 else response.status
                    )
                latencies.append(time.monotonic() - started)
                outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(door(cookies) for cookies in doors))
    return _result(latencies, outcomes, expected, time.monotonic() - started, len(doors))


async def scan_by_api(platform: Platform, event_id: str, clients: int, codes: list[str]) -> dict:
    queue = list(codes)
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    url = f"{platform.url}/api/v1/organiser/events/{event_id}/check-ins"
    headers = {"Authorization": f"Bearer {ORGANISER_TOKEN}"}

    async def client() -> None:
        async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=30)) as session:
            while queue:
                code = queue.pop()
                started = time.monotonic()
                async with session.post(url, json={"code": code}) as response:
                    outcome = (await response.json()).get("outcome", response.status)
                latencies.append(time.monotonic() - started)
                outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + 1

    started = time.monotonic()
    await asyncio.gather(*(client() for _ in range(clients)))
    return _result(latencies, outcomes, "checked_in", time.monotonic() - started, clients)


def _result(latencies: list[float], outcomes: dict, expected: str, seconds: float, doors: int) -> dict:
    return {
        "doors": doors,
        "scans": len(latencies),
        "outcomes": outcomes,
        "all_as_expected": outcomes == {expected: len(latencies)},
        "per_second": round(len(latencies) / seconds, 1) if seconds else None,
        "latency_ms": percentiles_ms(sorted(latencies)),
    }


def main() -> None:
    report.standalone("The door benchmark", FULL, SMOKE, run)


if __name__ == "__main__":
    main()
