"""The pages benchmark: how fast the main pages answer with 50 people using them at once.

``python -m bench.pages [--smoke] [--out FILE]`` (and part of ``make bench``). The platform is
started as ``make run`` starts it; then it is filled with ``registrations`` registrations
(``investors`` investors and ``companies`` companies all sharing the same tags, so that each
investor has ``companies`` suggestions), the investors and an organiser sign in with their
e-mailed links, and for each page ``users`` simulated people load it over and over for
``seconds`` (arriving one after another over the first ``arrival_seconds``), each with their own
cookies and looking at each page for about ``think_seconds`` before the next:

- ``home``: the home page;
- ``register``: the attendee journey's last step, the POST that creates the registration (each
  person first goes through the earlier steps, which are not timed);
- ``suggestions``: each person is one of the investors going through their own suggestions: the
  first page, the next pages, a tag filter, a stage filter, and round again;
- ``dashboard``: the organiser dashboard over all the registrations.

Latency is from sending a request to its whole answer; p50 and p99 over every request of a page,
and apart over each person's first request (nothing of theirs read yet).
"""

import asyncio
import itertools
import random
import re
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import requests

from bench import report
from bench.load import percentiles_ms
from tests.conftest import received_mail, wait_for
from tests.platform import Platform, queue_depths, running_platform

ORGANISER = "organiser@bench.example.org"
SHARED_TAGS = ["elderly", "ai"]
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Plan:
    registrations: int
    companies: int
    investors: int
    users: int
    seconds: float
    # how long a person looks at a page before the next one, drawn between half and one and a
    # half times this (0: each loads the next page the moment the last arrived)
    think_seconds: float
    # people arrive one after another over this time, at random, rather than all in the same
    # millisecond
    arrival_seconds: float


FULL = Plan(
    registrations=10_000,
    companies=100,
    investors=50,
    users=50,
    seconds=30,
    think_seconds=1.0,
    arrival_seconds=5.0,
)
SMOKE = Plan(
    registrations=60, companies=5, investors=4, users=4, seconds=2, think_seconds=0.1, arrival_seconds=0.2
)
# the views of their suggestions an investor goes through, in turn (PER_PAGE is 20)
SUGGESTION_VIEWS = ("", "?page=2", "?page=3", "?tag=ai", "?tag=ai&page=2", "?stage=seed", "?page=5")


def run(plan: Plan) -> dict:
    with (
        tempfile.TemporaryDirectory(prefix="bench-pages-") as var,
        running_platform(
            Path(var),
            ORGANISER_EMAILS=ORGANISER,
        ) as platform,
    ):
        started = time.monotonic()
        investors = fill(platform, plan)
        filled_seconds = time.monotonic() - started
        investor_people = [
            (signed_in_cookies(platform, email), browse(f"/my/{investor_id}/suggestions", SUGGESTION_VIEWS))
            for investor_id, email in investors
        ]
        organiser_cookies = signed_in_cookies(platform, ORGANISER)
        anyone = [({}, get("/"))] * plan.users
        pages = {
            "home": asyncio.run(measure(platform.url, plan, anyone)),
            "register": asyncio.run(measure(platform.url, plan, [({}, register_attendee)] * plan.users)),
            "suggestions": asyncio.run(
                measure(platform.url, plan, [investor_people[i % len(investors)] for i in range(plan.users)])
            ),
            "dashboard": asyncio.run(
                measure(platform.url, plan, [(organiser_cookies, get("/organiser"))] * plan.users)
            ),
        }
    filled = {"registrations": plan.registrations, "seconds": round(filled_seconds, 1)}
    return {"filled": filled, "pages": pages}


def fill(platform: Platform, plan: Plan) -> list[tuple[str, str]]:
    """Registrations through the API (ten at a time); each of ``plan.investors`` investors ends
    up with ``plan.companies`` suggestions. Answers the investors' ids and e-mails once matching
    has made them all."""
    investors = []
    for i in range(plan.investors):
        email = f"investor-{uuid.uuid4().hex[:8]}@bench.example.org"
        answer = platform.call(
            "POST",
            "/api/v1/investors",
            json={
                "name": f"Bench Investor {i}",
                "email": email,
                "organisation": f"Bench Fund {i}",
                "interests": SHARED_TAGS,
                "stages": ["seed", "pre_a"],
                "consents": {"privacy": True},
            },
        )
        answer.raise_for_status()
        investors.append((answer.json()["id"], email))
    bodies = [_company(i) for i in range(plan.companies)]
    bodies += [_attendee(i) for i in range(plan.registrations - plan.companies - plan.investors)]
    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda body: _register(platform, *body), bodies))
    assert all(status == 201 for status in statuses), f"registrations failed: {set(statuses)}"
    # every company is suggested to the investor once matching has handled every registration,
    # and the pages are measured on a platform at rest: the fill's e-mails sent (digests due
    # later stay queued: the mail sink's count standing still is what tells)
    wait_for(lambda: not any(queue_depths(platform).values()), 900, interval=1, message="empty queues")
    sent: list[int] = []

    def mail_settled() -> bool:
        sent.append(len(list((platform.var / "mail").glob("*.eml"))))
        return len(sent) > 5 and sent[-1] == sent[-6]

    wait_for(mail_settled, 900, interval=2, message="the fill's e-mails to be sent")
    return investors


def _company(i: int) -> tuple[str, dict]:
    return "companies", {
        "name": f"Bench Company {i}",
        "email": f"company-{uuid.uuid4().hex[:10]}@bench.example.org",
        "description": "Technology for seniors, made with AI.",
        "tags": SHARED_TAGS,
        "stage": "seed",
        "consents": {"privacy": True},
    }


def _attendee(i: int) -> tuple[str, dict]:
    body = {
        "name": f"관람객 {i}",
        "email": f"attendee-{uuid.uuid4().hex[:10]}@bench.example.org",
        "attendee_type": "citizen",
        "consents": {"privacy": True, "sensitive": i % 10 == 0},
    }
    if i % 10 == 0:
        body["accessibility_needs"] = {"wheelchair_access": True}
    return "attendees", body


def _register(platform: Platform, collection: str, body: dict) -> int:
    return platform.post_past_shedding(f"/api/v1/{collection}", body).status_code


def signed_in_cookies(platform: Platform, address: str) -> dict:
    """The cookies of a browser that signed in as ``address`` with its e-mailed link."""
    browser = requests.Session()
    form = browser.get(platform.url + "/sign-in")
    sent = browser.post(
        platform.url + "/sign-in", data={"email": address, "csrf_token": CSRF.search(form.text).group(1)}
    )
    sent.raise_for_status()

    def link() -> str | None:
        for message in reversed(received_mail(platform.var / "mail")):
            if address in message["To"]:
                found = re.search(r"https?://\S+/sign-in/[\w-]+", message.get_body(("plain",)).get_content())
                if found:
                    return found.group(0)
        return None

    url = wait_for(link, 60, interval=0.2, message=f"the sign-in e-mail to {address}")
    page = browser.get(url)
    signed = browser.post(url, data={"csrf_token": CSRF.search(page.text).group(1)})
    signed.raise_for_status()
    return browser.cookies.get_dict()


Step = Callable[[aiohttp.ClientSession, str], Awaitable[float]]


def get(path: str) -> Step:
    async def load(session: aiohttp.ClientSession, base_url: str) -> float:
        started = time.monotonic()
        async with session.get(base_url + path) as response:
            await response.read()
            _check(response, path)
        return time.monotonic() - started

    return load


def browse(path: str, views: tuple[str, ...]) -> Step:
    """Each load the next of ``views`` of ``path``, round and round."""
    turns = itertools.cycle(views)

    async def load(session: aiohttp.ClientSession, base_url: str) -> float:
        return await get(path + next(turns))(session, base_url)

    return load


async def register_attendee(session: aiohttp.ClientSession, base_url: str) -> float:
    """The attendee journey; only its last POST (the one that registers) is timed."""
    about = base_url + "/register/attendee"
    token = await _csrf(session, about)
    answers = {
        "csrf_token": token,
        "name": "성능 시험",
        "email": f"page-{uuid.uuid4().hex[:12]}@bench.example.org",
        "attendee_type": "citizen",
        "language": "ko",
        "companions": "0",
        "consents-privacy": "yes",
    }
    async with session.post(about, data=answers) as response:
        await response.read()
        _check(response, "about you")
    access = base_url + "/register/attendee/access"
    async with session.post(access, data={"csrf_token": token}) as response:
        await response.read()
        _check(response, "access")
    check = base_url + "/register/attendee/check"
    token = await _csrf(session, check)
    started = time.monotonic()
    async with session.post(check, data={"csrf_token": token}) as response:
        await response.read()
        _check(response, "check")
    return time.monotonic() - started


async def _csrf(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        text = await response.text()
        _check(response, url)
    return CSRF.search(text).group(1)


class PageFailed(Exception):
    pass


def _check(response: aiohttp.ClientResponse, what: str) -> None:
    if response.status >= 400:
        raise PageFailed(f"{what}: {response.status}")


async def measure(base_url: str, plan: Plan, people: list[tuple[dict, Step]]) -> dict:
    """``plan.users`` people, each with its cookies and step from ``people``, each repeating its
    step for ``plan.seconds``."""
    latencies: list[float] = []
    first_loads: list[float] = []
    failures: dict[str, int] = {}
    deadline = time.monotonic() + plan.seconds

    async def person(cookies: dict, step: Step) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=30)) as session:
            session.cookie_jar.update_cookies(cookies)
            await asyncio.sleep(random.uniform(0, plan.arrival_seconds))
            first = True
            while time.monotonic() < deadline:
                try:
                    latency = await step(session, base_url)
                    latencies.append(latency)
                    if first:
                        first_loads.append(latency)
                    first = False
                except (PageFailed, aiohttp.ClientError, TimeoutError) as error:
                    failures[str(error)] = failures.get(str(error), 0) + 1
                await asyncio.sleep(plan.think_seconds * random.uniform(0.5, 1.5))

    await asyncio.gather(*(person(cookies, step) for cookies, step in people[: plan.users]))
    return {
        "users": plan.users,
        "think_seconds": plan.think_seconds,
        "requests": len(latencies),
        "failures": failures,
        "per_second": round(len(latencies) / plan.seconds, 1),
        "first_loads_ms": percentiles_ms(sorted(first_loads)),
        "latency_ms": percentiles_ms(sorted(latencies)),
    }


def main() -> None:
    report.standalone("The pages benchmark", FULL, SMOKE, run)


if __name__ == "__main__":
    main()
