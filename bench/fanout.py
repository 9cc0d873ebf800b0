"""The fan-out benchmark: investors sharing popular tags, and companies with those tags arriving
at a steady rate, as on a real expo day (most parties carry ``elderly`` or ``ai``).

    python -m bench.fanout [--smoke] [--out results.json]

1. **Cost per company event at 10, 100 and 300 investors**: the store round trips and publisher
   confirms matching and notification spend per event matching handled, from each service's
   ``io_counts`` (``null`` on a version without it). One platform for all sizes: each size has a
   tag family of its own (the 300 investors' is ``elderly`` + ``ai``), so its companies meet only
   its own investors. What the services do while idle (their 1-second timers) is measured just
   before and taken out.
2. **The target run**: 300 investors sharing ``elderly`` and ``ai`` (those of the 300 size), then
   companies with those tags at 10/s for 60 s, open loop. Gateway latency and 5xx; time until
   every queue of the platform's virtual host is empty (ready and unacknowledged, from
   ``rabbitmqctl``), and nothing is pending in the stores, after the last registration's answer;
   matching events/s and pairs stored/s (counted in matching's store); how
   soon a company shows in a matching investor's list (``GET /api/v1/investors/{id}/matches``
   with the investor's token, polled every 0.25 s: a probe investor shares a rarer tag,
   ``dementia``, with every 10th company, so the pair is surely in its best 100); and the
   e-mails each recipient got from the mail sink (suggestion e-mails are those with a
   ``List-Unsubscribe`` header, or, on a version before digests, a suggestions subject).

Only modules that existed before the digest and top-N changes are imported, so this file also
measures an older checkout.
"""

import argparse
import dataclasses
import itertools
import json
import math
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path

import kombu
import requests
from pymongo import MongoClient

from bench.load import open_loop, percentiles_ms
from shared.rpc import RpcClient
from tests.platform import Platform, pending_work, running_platform

STAGES = ["idea", "seed", "pre_a", "series_a", "series_b_plus", "growth"]
# per size of the cost comparison: the tags all its parties share, and tags for variety; no
# family shares a tag with another, so each size's companies meet only its own investors
FAMILIES = {
    10: (["sign_language", "hearing_impairment"], ["speech_to_text", "communication", "voice_interface"]),
    100: (["kiosk_accessibility", "digital_use"], ["visual_impairment", "mobile_app", "education"]),
    300: (["elderly", "ai"], ["mobility", "health_safety", "iot", "robotics", "wearables", "big_data"]),
}
PROBE_TAG = "dementia"
PROBE_EVERY = 10
PROBE_POLL_SECONDS = 0.25
# the probe's list is read as far as the platform's default MATCHING_TOP_N. A probe company that
# ranks below that (its stage or its other tags fit the probe worse than 100 others do) rightly
# never shows, and is counted apart from those missing.
PROBE_LIST_LIMIT = 100
# how long the target run waits for the platform to drain before it reports what is left
DRAIN_LIMIT_SECONDS = 600
DIGEST_WINDOW_MINUTES = 60  # the platform's default SUGGESTION_DIGEST_MINUTES
SERVICES = ("matching", "notification")
IO_KEYS = ("store_commands", "events_published", "events_handled")


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]  # investors at each size of the cost comparison
    companies_per_size: int
    idle_seconds: float  # how long the idle baseline of each size is measured
    investors: int  # the target run's
    rate: float
    seconds: float


FULL = Plan(sizes=(10, 100, 300), companies_per_size=20, idle_seconds=5, investors=300, rate=10, seconds=60)
SMOKE = Plan(sizes=(10, 30), companies_per_size=3, idle_seconds=1, investors=30, rate=5, seconds=3)


def family_of(size: int) -> int:
    return size if size in FAMILIES else min(FAMILIES)


def run(plan: Plan) -> dict:
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as var, running_platform(Path(var)) as platform:
        bench = FanOut(platform, rng)
        try:
            cost = [bench.cost_at(size, plan) for size in plan.sizes]
            result = {"cost_per_event": cost, "target_run": bench.target_run(plan)}
        finally:
            bench.close()
    return result


class FanOut:
    def __init__(self, platform: Platform, rng: random.Random) -> None:
        self.platform, self.rng = platform, rng
        self.store = MongoClient(platform.mongo_uri)
        self.rpc = RpcClient(platform.amqp_uri, timeout=30)
        self.registered: dict[int, list[dict]] = {}
        self.started = time.time()

    def close(self) -> None:
        self.rpc.close()
        self.store.close()

    # parties

    def register(self, kind: str, body: dict) -> dict:
        response = self.platform.call("POST", f"/api/v1/{kind}", json=body)
        response.raise_for_status()
        return response.json()

    def investor_body(self, family: int, extra: tuple[str, ...] = ()) -> dict:
        base, variety = FAMILIES[family]
        return {
            "name": "Fan-out Investor",
            "organisation": "Fan-out Fund",
            "email": f"investor-{uuid.uuid4().hex[:12]}@example.kr",
            "consents": {"privacy": True},
            "interests": [*base, *self.rng.sample(variety, self.rng.randint(0, 2)), *extra],
            "stages": self.rng.sample(STAGES, self.rng.randint(1, 3)),
            "language": self.rng.choice(["ko", "en"]),
        }

    def company_body(self, family: int, extra: tuple[str, ...] = ()) -> dict:
        base, variety = FAMILIES[family]
        return {
            "name": f"Fan-out Company {uuid.uuid4().hex[:6]}",
            "email": f"company-{uuid.uuid4().hex[:12]}@example.kr",
            "consents": {"privacy": True},
            "description": "fan-out benchmark",
            "tags": [*base, *self.rng.sample(variety, self.rng.randint(0, 2)), *extra],
            "stage": self.rng.choice(STAGES),
            "language": self.rng.choice(["ko", "en"]),
        }

    def investors(self, family: int, count: int) -> list[dict]:
        """``count`` investors of the family (registered once, then reused), handled by matching."""
        known = self.registered.setdefault(family, [])
        for _ in range(count - len(known)):
            known.append(self.register("investors", self.investor_body(family)))
        self.wait_until_handled()
        return known[:count]

    # measuring

    def io(self, service: str) -> dict | None:
        """The service's counters; None where it has none (a version before them)."""
        try:
            counts = self.rpc.call(service, "io_counts", timeout=10)
        except Exception:
            return None
        return {key: counts.get(key, 0) for key in IO_KEYS}

    def io_all(self) -> dict[str, dict | None]:
        return {service: self.io(service) for service in SERVICES}

    def matching_events_expected(self) -> int:
        """Profile events matching has to handle: one per company and investor registered."""
        return self.store["registration"]["registrations"].count_documents(
            {"kind": {"$in": ["company", "investor"]}}
        )

    def matching_events_handled(self) -> int:
        return self.store["matching"]["inbox"].count_documents({"status": "done"})

    def registrations(self) -> Counter:
        """Registrations since the platform started, by kind."""
        rows = self.store["registration"]["registrations"].aggregate(
            [{"$group": {"_id": "$kind", "n": {"$sum": 1}}}]
        )
        return Counter({row["_id"]: row["n"] for row in rows})

    def suggestions(self) -> int:
        """Pairs matching keeps, read from its store: the organisers' summary asks the services,
        which a platform far behind (the version before bulk fan-out) does not answer in time."""
        return self.store["matching"]["suggestions"].count_documents({})

    def below_the_list(self, investor_id: str, companies: list[str]) -> list[str]:
        """Those of ``companies`` whose pair with the investor ranks below the first
        PROBE_LIST_LIMIT of its stored pairs, as the list orders them (best score first)."""
        if not companies:
            return []
        pairs = self.store["matching"]["suggestions"].find(
            {"investor_id": investor_id}, {"score": 1, "company_id": 1}
        )
        ranked = [pair["company_id"] for pair in pairs.sort([("score", -1), ("_id", 1)])]
        shown = set(ranked[:PROBE_LIST_LIMIT])
        return [company for company in companies if company in ranked and company not in shown]

    def wait_until_handled(self, timeout: float = 900) -> None:
        """Until matching has handled every company and investor registered, and nothing is
        left anywhere (queues, outboxes, notifications due)."""
        expected = self.matching_events_expected()
        deadline = time.monotonic() + timeout
        while (handled := self.matching_events_handled()) < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"matching handled {handled} of {expected} events")
            time.sleep(0.5)
        wait_drained(self.platform, max(1.0, deadline - time.monotonic()))

    def cost_at(self, size: int, plan: Plan) -> dict:
        """Round trips and confirms per matching event while ``companies_per_size`` companies
        of the size's family arrive one at a time, each matching ``size`` investors."""
        family = family_of(size)
        self.investors(family, size)
        idle = self.idle_rates(plan.idle_seconds)
        before, began = self.io_all(), time.monotonic()
        handled_before = self.matching_events_handled()
        for _ in range(plan.companies_per_size):
            self.register("companies", self.company_body(family))
            time.sleep(0.2)
        self.wait_until_handled()
        after, elapsed = self.io_all(), time.monotonic() - began
        events = self.matching_events_handled() - handled_before
        row: dict = {"investors": size, "companies": plan.companies_per_size, "matching_events": events}
        for service in SERVICES:
            if before[service] is None or after[service] is None or idle[service] is None or not events:
                row[service] = None
                continue
            delta = {key: after[service][key] - before[service][key] for key in IO_KEYS}
            # what the service's timers did meanwhile, at the rate measured while idle
            trips = delta["store_commands"] - idle[service]["store_commands"] * elapsed
            confirms = delta["events_published"] - idle[service]["events_published"] * elapsed
            row[service] = {
                "store_round_trips_per_matching_event": round(max(trips, 0) / events, 1),
                "confirms_per_matching_event": round(max(confirms, 0) / events, 2),
                "store_round_trips_per_matching_event_raw": round(delta["store_commands"] / events, 1),
                "idle_store_round_trips_per_second": round(idle[service]["store_commands"], 2),
                "events_handled": delta["events_handled"],
            }
        print(f"  {size} investors: {json.dumps(row)}", file=sys.stderr, flush=True)
        return row

    def idle_rates(self, seconds: float) -> dict[str, dict | None]:
        """Counts per second of each service while nothing arrives."""
        before, began = self.io_all(), time.monotonic()
        time.sleep(seconds)
        after, elapsed = self.io_all(), time.monotonic() - began
        return {
            service: None
            if before[service] is None or after[service] is None
            else {key: (after[service][key] - before[service][key]) / elapsed for key in IO_KEYS}
            for service in SERVICES
        }

    def target_run(self, plan: Plan) -> dict:
        family = family_of(plan.investors)
        investors = self.investors(family, plan.investors)
        probe = self.register("investors", self.investor_body(family, (PROBE_TAG,)))
        self.wait_until_handled()
        bodies = [
            self.company_body(family, (PROBE_TAG,) if i % PROBE_EVERY == 0 else ())
            for i in range(int(plan.rate * plan.seconds))
        ]
        suggestions_before = self.suggestions()
        io_before = self.io_all()
        handled_before = self.matching_events_handled()
        started = time.time()
        with ListWatcher(
            self.platform.url, probe["id"], probe["manage_token"], plan.seconds + DRAIN_LIMIT_SECONDS + 60
        ) as watcher:
            step = open_loop(
                self.platform.url, plan.rate, plan.seconds, lambda i: ("POST", "/api/v1/companies", bodies[i])
            )
            answered = [o.answered_at for o in step.outcomes if o.status is not None]
            last_answer = max(answered, default=time.time())
            probes = {
                outcome.body["id"]: outcome.answered_at
                for i, outcome in enumerate(step.outcomes)
                if i % PROBE_EVERY == 0 and outcome.status == 201 and outcome.body
            }
            try:
                drained_at: float | None = wait_drained(self.platform, DRAIN_LIMIT_SECONDS)
            except TimeoutError:
                drained_at = None
            watcher.wait_for(probes, timeout=30)
        visible = sorted(
            max(0.0, watcher.first_seen[company] - answered_at)
            for company, answered_at in probes.items()
            if company in watcher.first_seen
        )
        unseen = [company for company in probes if company not in watcher.first_seen]
        below = self.below_the_list(probe["id"], unseen)
        events = self.matching_events_handled() - handled_before
        pairs = self.suggestions() - suggestions_before
        busy = max((drained_at or time.time()) - started, 1e-9)
        io_after = self.io_all()
        summary = step.summary()
        result = {
            "investors": len(investors) + 1,
            "companies_offered": len(bodies),
            "seconds": plan.seconds,
            "gateway": {
                "latency_ms": summary["latency_ms"],
                "statuses": summary["statuses"],
                "server_errors": sum(
                    n for status, n in summary["statuses"].items() if status.startswith("5")
                ),
                "unanswered": summary["statuses"].get("None", 0),
            },
            # None: not drained within DRAIN_LIMIT_SECONDS (then the messages left are given)
            "drained_seconds_after_last_registration": (
                round(max(0.0, drained_at - last_answer), 1) if drained_at else None
            ),
            "messages_left": None if drained_at else messages_in_queues(self.platform),
            "matching_events": events,
            "matching_events_per_second": round(events / busy, 1),
            "pairs_stored": pairs,
            "pairs_stored_per_second": round(pairs / busy, 1),
            "suggestion_visible_ms": {
                **percentiles_ms(visible),
                "probes": len(probes),
                # never seen, and not found ranked below the list's first PROBE_LIST_LIMIT
                "missing": len(unseen) - len(below),
                # never seen, and rightly so: ranked below the list's first PROBE_LIST_LIMIT
                "below_the_list": len(below),
                "poll_seconds": PROBE_POLL_SECONDS,
            },
            "emails": emails(self.platform.var / "mail", self.registrations(), time.time() - self.started),
        }
        # over the run, timers included
        for service in SERVICES:
            if io_before[service] is None or io_after[service] is None or not events:
                result[f"{service}_per_matching_event"] = None
                continue
            delta = {key: io_after[service][key] - io_before[service][key] for key in IO_KEYS}
            result[f"{service}_per_matching_event"] = {
                "store_round_trips": round(delta["store_commands"] / events, 1),
                "confirms": round(delta["events_published"] / events, 2),
                "events_handled": delta["events_handled"],
            }
        return result


def wait_drained(platform: Platform, timeout: float) -> float:
    """Wait until no message is in any queue of the platform's virtual host (ready or
    unacknowledged) and nothing is pending in the stores; returns when that was seen.

    Each ``rabbitmqctl`` call starts an Erlang VM (about half a second of processor on this
    machine), so polling with it twice a second took a good part of the platform's two cores
    while it drained. Ready messages are polled over AMQP (a passive declare) with the stores;
    ``rabbitmqctl``, which also counts the unacknowledged, only confirms what those saw, and the
    time reported is when its answer came."""
    deadline = time.monotonic() + timeout
    queues = [name for name in messages_in_queues(platform) if not name.startswith("rpc.reply-")]
    with kombu.Connection(platform.amqp_uri) as connection:
        while time.monotonic() < deadline:
            if any(messages_ready(connection, queues).values()) or any(pending_work(platform).values()):
                time.sleep(0.5)
                continue
            left = messages_in_queues(platform)
            seen = time.time()
            if not any(left.values()):
                return seen
            time.sleep(0.5)
    raise TimeoutError("the platform did not drain")


def messages_ready(connection: kombu.Connection, queues: list[str]) -> dict[str, int]:
    """Messages ready in each of ``queues``, by a passive declare (which does not count those
    delivered and not yet acknowledged)."""
    channel = connection.default_channel
    return {name: channel.queue_declare(queue=name, passive=True).message_count for name in queues}


def messages_in_queues(platform: Platform) -> dict[str, int]:
    """Messages in each queue of the platform's virtual host, ready or unacknowledged (the
    broker's management API is not enabled by ``make broker``, so ``rabbitmqctl``)."""
    vhost = platform.amqp_uri.rsplit("/", 1)[1]
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "--no-table-headers", "name", "messages"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    return {name: int(count) for name, count in zip(listed[::2], listed[1::2], strict=True)}


class ListWatcher:
    """Polls an investor's list of suggested companies, as the investor's page would, and notes
    when each company is first seen in it; stops when told, or after ``limit_seconds``."""

    def __init__(self, url: str, investor_id: str, token: str, limit_seconds: float) -> None:
        self.url = f"{url}/api/v1/investors/{investor_id}/matches?limit={PROBE_LIST_LIMIT}"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.first_seen: dict[str, float] = {}
        self.polls = 0
        self._deadline = time.monotonic() + limit_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "ListWatcher":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def wait_for(self, companies: dict, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not set(companies) <= set(self.first_seen) and time.monotonic() < deadline:
            time.sleep(PROBE_POLL_SECONDS)

    def _run(self) -> None:
        with requests.Session() as http:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                try:
                    response = http.get(self.url, headers=self.headers, timeout=10)
                    seen = time.time()
                    items = response.json()["items"] if response.status_code == 200 else []
                except (requests.RequestException, ValueError, KeyError):
                    items = []
                self.polls += 1
                for item in items:
                    self.first_seen.setdefault(item["company_id"], seen)
                self._stop.wait(PROBE_POLL_SECONDS)


def is_suggestion_email(message: Message) -> bool:
    """A suggestions digest carries List-Unsubscribe; before digests, the one e-mail per
    suggestion event had none, and is told by its subject."""
    subject = str(message["Subject"] or "")
    return message["List-Unsubscribe"] is not None or "추천" in subject or "suggestion" in subject.lower()


def emails(mail_dir: Path, registrations: Counter, seconds: float) -> dict:
    """E-mails per recipient since the platform started (``seconds`` ago), suggestion e-mails
    apart, against the issue's bound: registrations + investors × digest windows spanned."""
    every: Counter = Counter()
    with_unsubscribe = 0
    suggestions: dict[str, list[float]] = {}
    for path in mail_dir.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=default_policy)
        recipient = str(message["To"])
        every[recipient] += 1
        with_unsubscribe += message["List-Unsubscribe"] is not None
        if is_suggestion_email(message):
            suggestions.setdefault(recipient, []).append(message["Date"].datetime.timestamp())
    window = DIGEST_WINDOW_MINUTES * 60
    too_close = [
        recipient
        for recipient, sent in suggestions.items()
        if any(later - earlier < window for earlier, later in itertools.pairwise(sorted(sent)))
    ]
    # a run shorter than a window may still cross one boundary
    windows = math.ceil(seconds / 60 / DIGEST_WINDOW_MINUTES) + 1
    total_registrations = sum(registrations.values())
    return {
        "total": sum(every.values()),
        "suggestion_emails": sum(len(sent) for sent in suggestions.values()),
        "with_list_unsubscribe": with_unsubscribe,
        "recipients": len(every),
        "recipients_of_suggestions": len(suggestions),
        "registrations": dict(registrations),
        "max_suggestion_emails_per_recipient": max(map(len, suggestions.values()), default=0),
        "recipients_with_two_within_a_window": len(too_close),
        "max_emails_per_recipient": max(every.values(), default=0),
        "windows_spanned_at_most": windows,
        "bound_registrations_plus_investors_x_windows": total_registrations
        + registrations["investor"] * windows,
        # companies are told of their investors by digest too
        "bound_counting_companies_digests_too": total_registrations
        + (registrations["investor"] + registrations["company"]) * windows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="The fan-out benchmark (prints its result as JSON).")
    parser.add_argument("--smoke", action="store_true", help="every part, briefly")
    parser.add_argument("--out", type=Path, help="write the JSON result here too")
    parser.add_argument("--target-run-only", action="store_true", help="skip the cost per event at each size")
    arguments = parser.parse_args()
    plan = SMOKE if arguments.smoke else FULL
    if arguments.target_run_only:
        plan = dataclasses.replace(plan, sizes=())
    result = {"plan": dataclasses.asdict(plan), **run(plan)}
    text = json.dumps(result, indent=2)
    if arguments.out:
        arguments.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
