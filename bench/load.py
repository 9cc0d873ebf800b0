"""HTTP load: an open-loop generator (requests leave on schedule whether or not earlier ones
were answered, so a slow server cannot hide its latency by slowing the sender down) and a
closed-loop one (a fixed number of clients, each sending as soon as it has its answer) for
finding a ceiling."""

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import aiohttp

# (method, path, JSON body) of the i-th request
RequestFactory = Callable[[int], tuple[str, str, dict | None]]


@dataclass
class Outcome:
    scheduled: float  # monotonic time the request was due to leave
    status: int | None  # None: no answer (refused, reset, timed out)
    latency: float  # seconds from ``scheduled`` to the answer
    answered_at: float  # wall-clock time of the answer
    body: dict | None = None


@dataclass
class StepResult:
    offered_rate: float
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def ok(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is not None and 200 <= o.status < 300]

    def summary(self) -> dict:
        latencies = sorted(o.latency for o in self.ok)
        answered = [o.answered_at for o in self.ok]
        span = (max(answered) - min(answered)) if len(answered) > 1 else self.seconds
        errors = len(self.outcomes) - len(self.ok)
        return {
            "offered_rate": self.offered_rate,
            "sent": len(self.outcomes),
            "ok": len(self.ok),
            "errors": errors,
            "error_rate": errors / len(self.outcomes) if self.outcomes else 0.0,
            "achieved_rate": len(self.ok) / max(span, self.seconds),
            "latency_ms": percentiles_ms(latencies),
            "statuses": _count(o.status for o in self.outcomes),
        }


def percentiles_ms(sorted_seconds: list[float]) -> dict:
    if not sorted_seconds:
        return {"p50": None, "p95": None, "p99": None, "max": None}

    def at(fraction: float) -> float:
        index = min(len(sorted_seconds) - 1, int(round(fraction * (len(sorted_seconds) - 1))))
        return round(sorted_seconds[index] * 1000, 2)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(sorted_seconds[-1] * 1000, 2)}


def _count(values: Iterable[object]) -> dict:
    counts: dict = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


async def _send(session: aiohttp.ClientSession, base_url: str, request: tuple, scheduled: float) -> Outcome:
    method, path, body = request
    try:
        async with session.request(method, base_url + path, json=body) as response:
            payload = await response.json(content_type=None) if response.status < 300 else None
            status = response.status
    except (TimeoutError, aiohttp.ClientError, ValueError):
        status, payload = None, None
    return Outcome(scheduled, status, time.monotonic() - scheduled, time.time(), payload)


def _session(connections: int, timeout: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))


async def _open_loop(
    base_url: str, rate: float, seconds: float, make: RequestFactory, offset: int
) -> StepResult:
    result = StepResult(rate, seconds)
    total = int(rate * seconds)
    async with _session(connections=512, timeout=30) as session:
        started = time.monotonic()
        tasks = []
        for i in range(total):
            due = started + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(session, base_url, make(offset + i), due)))
        result.outcomes = list(await asyncio.gather(*tasks))
    return result


def open_loop(
    base_url: str, rate: float, seconds: float, make: RequestFactory, offset: int = 0
) -> StepResult:
    """Send ``rate`` requests a second for ``seconds``; latency counts from when each was due."""
    return asyncio.run(_open_loop(base_url, rate, seconds, make, offset))


async def _closed_loop(base_url: str, clients: int, seconds: float, make: RequestFactory) -> StepResult:
    outcomes: list[Outcome] = []
    counter = iter(range(10**9))
    async with _session(connections=clients, timeout=30) as session:
        deadline = time.monotonic() + seconds

        async def client() -> None:
            while time.monotonic() < deadline:
                outcomes.append(await _send(session, base_url, make(next(counter)), time.monotonic()))

        await asyncio.gather(*(client() for _ in range(clients)))
    result = StepResult(0.0, seconds, outcomes)
    return result


def closed_loop(base_url: str, clients: int, seconds: float, make: RequestFactory) -> StepResult:
    """As many requests as ``clients`` concurrent clients can get answered in ``seconds``."""
    return asyncio.run(_closed_loop(base_url, clients, seconds, make))
