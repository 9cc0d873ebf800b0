"""The registration rush: registrations through the gateway at rising offered load, with the
broker's queue depths sampled throughout, and probes timing a company's 201 to the matched
investor's notification being recorded as sent."""

import contextlib
import threading
import time
import uuid

import requests
from pymongo import MongoClient

from bench.cpu import CpuMeter
from bench.load import StepResult, open_loop, percentiles_ms
from shared import clock
from tests.platform import Platform, queue_depths, registration_body, settle

# an expo's registrations are mostly visitors; companies and investors get disjoint tag families
# (see registration_body), so the rush measures registrations, not suggestion fan-out
MIX = ["attendees"] * 6 + ["companies"] * 2 + ["investors"] * 2
# probes match only each other: tags no rush registration carries, one for each lane of probes
PROBE_TAGS = ("mobility", "visual_impairment", "sign_language", "kiosk_accessibility")
# lanes of probes during the sustained step: one alone, slowed by shed requests and their
# Retry-After, finishes only a few probes a minute
RUSH_PROBE_LANES = 4
# how often a probe looks for its notification
POLL_SECONDS = 0.1


def rush_request(i: int) -> tuple[str, str, dict]:
    kind = MIX[i % len(MIX)]
    return "POST", f"/api/v1/{kind}", registration_body(kind, f"rush-{uuid.uuid4().hex[:16]}@example.kr")


class QueueSampler:
    """The depth of every service's event queue, every half second, in a thread."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.samples: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = 0.0

    def __enter__(self) -> "QueueSampler":
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                depths = queue_depths(self.platform)
            except Exception:  # noqa: S112 - a missed sample is no reason to stop sampling
                depths = None
            if depths is not None:
                self.samples.append({"t": round(time.monotonic() - self._started, 2), **depths})
            self._stop.wait(0.5)

    def peak(self) -> dict:
        services = [key for key in (self.samples[0] if self.samples else {}) if key != "t"]
        return {service: max(sample[service] for sample in self.samples) for service in services}


class Probes:
    """End-to-end probes, one after another in each lane: an investor and then a company sharing
    only the lane's probe tag; the company's 201 starts the clock, the suggestion announced to
    the investor in-app stops it (its ``announced_at``, read from the store; the e-mail is a
    digest that may wait for its window). Both are cancelled afterwards, so the lane's next
    probe pair matches only itself."""

    def __init__(
        self, platform: Platform, lanes: int = 1, interval: float = 1.0, timeout: float = 60.0
    ) -> None:
        self.platform, self.interval, self.timeout = platform, interval, timeout
        self.latencies: list[float] = []
        self.missing = 0
        self.failed = 0
        self._stop = threading.Event()
        self._lanes = [
            threading.Thread(target=self._run, args=(tag,), daemon=True) for tag in PROBE_TAGS[:lanes]
        ]

    def run(self, count: int) -> dict:
        for _ in range(count):
            self._probe(PROBE_TAGS[0])
        return self.summary()

    def __enter__(self) -> "Probes":
        for lane in self._lanes:
            lane.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for lane in self._lanes:
            lane.join()

    def summary(self) -> dict:
        return {
            "probes": len(self.latencies) + self.missing + self.failed,
            "missing": self.missing,
            "failed": self.failed,
            "latency_ms": percentiles_ms(sorted(self.latencies)),
        }

    def _run(self, tag: str) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._probe(tag)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def _probe(self, tag: str) -> None:
        http = requests.Session()
        store = MongoClient(self.platform.mongo_uri)
        try:
            self._timed_pair(http, store, tag)
        except requests.RequestException:
            # a probe registration or cancellation got no answer; a probe pair left active would
            # match the next ones, so probing stops here
            self.failed += 1
            self._stop.set()
        finally:
            store.close()
            http.close()

    def _timed_pair(self, http: requests.Session, store: MongoClient, tag: str) -> None:
        investor = self._register(http, "investors", {"interests": [tag], "stages": ["seed"]})
        company = self._register(http, "companies", {"tags": [tag], "stage": "seed"})
        acknowledged_at = time.time()
        announced = store["notification"]["announced_suggestions"]
        query = {"_id": f"{investor['id']}|{company['id']}"}
        deadline = time.monotonic() + self.timeout
        found = None
        while found is None and time.monotonic() < deadline:
            found = announced.find_one(query, {"announced_at": 1})
            if found is None:
                # the clock stops at the recorded announced_at, not when it is seen: looking
                # more often would only load the store the rush is measured on
                time.sleep(POLL_SECONDS)
        if found is None:
            self.missing += 1
        else:
            self.latencies.append(clock.parse_iso(found["announced_at"]).timestamp() - acknowledged_at)
        for kind, registration in (("companies", company), ("investors", investor)):
            self._call(
                http,
                "DELETE",
                f"/api/v1/{kind}/{registration['id']}",
                headers={"Authorization": f"Bearer {registration['manage_token']}"},
            )

    def _register(self, http: requests.Session, kind: str, fields: dict) -> dict:
        email = f"probe-{uuid.uuid4().hex[:16]}@example.kr"
        return self._call(http, "POST", f"/api/v1/{kind}", json={**registration_body(kind, email), **fields})

    def _call(self, http: requests.Session, method: str, path: str, **kwargs: object) -> dict:
        """As a person's browser would: a request the gateway shed (503) is sent again after
        its Retry-After, until the probe's timeout."""
        deadline = time.monotonic() + self.timeout
        while True:
            response = http.request(method, self.platform.url + path, timeout=30, **kwargs)
            if response.status_code != 503 or time.monotonic() > deadline:
                response.raise_for_status()
                return response.json()
            time.sleep(float(response.headers.get("Retry-After", "1")))


def rush(platform: Platform, rates: list[float], step_seconds: float, sustained: tuple[float, float]) -> dict:
    """Each rising step, then the sustained step with probes; after each, the seconds from the
    end of its sending (when the last request was due) until everything queued is done (outboxes,
    broker queues, unsent notifications): requests the gateway still holds count as backlog."""
    steps = []
    offset = 0
    plan = [(rate, step_seconds, False) for rate in rates] + [(sustained[0], sustained[1], True)]
    for rate, seconds, with_probes in plan:
        with QueueSampler(platform) as sampler, CpuMeter(platform) as cpu:
            probes = Probes(platform, lanes=RUSH_PROBE_LANES) if with_probes else None
            sending_ends = time.monotonic() + seconds
            with probes or contextlib.nullcontext():
                step: StepResult = open_loop(platform.url, rate, seconds, rush_request, offset)
            offset += len(step.outcomes)
            settle_started = time.monotonic()
            drained = settle(platform, timeout=300)
        steps.append(
            {
                **step.summary(),
                "seconds": seconds,
                "sustained": with_probes,
                "drain_seconds": (
                    None
                    if drained == float("inf")
                    else round(max(0.0, settle_started + drained - sending_ends), 1)
                ),
                "queue_peak": sampler.peak(),
                "queue_samples": sampler.samples,
                "end_to_end": probes.summary() if probes else None,
                # the step and its drain: all the work its registrations caused
                "cpu_ms_per_registration": cpu.per_registration_ms(len(step.ok)),
            }
        )
        print(_step_line(steps[-1]), flush=True)
    return {"mix": _mix(), "steps": steps}


def _mix() -> dict:
    return {kind: MIX.count(kind) / len(MIX) for kind in set(MIX)}


def _step_line(step: dict) -> str:
    latency = step["latency_ms"]
    return (
        f"  offered {step['offered_rate']:.0f}/s for {step['seconds']:.0f} s: achieved "
        f"{step['achieved_rate']:.1f}/s, p50 {latency['p50']} ms, p95 {latency['p95']} ms, "
        f"p99 {latency['p99']} ms, errors {step['errors']}, queue peak {step['queue_peak']}, "
        f"drained in {step['drain_seconds']} s"
    )


def idle_end_to_end(platform: Platform, count: int) -> dict:
    return Probes(platform).run(count)
