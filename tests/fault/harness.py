"""Drive registrations at a steady rate while a fault is injected, wait for the platform to
settle, and count, for every request, what happened to it."""

import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as default_policy

import requests
from pymongo import MongoClient

from tests.platform import Platform, registration_body

# the registrations' usual mix: tags of disjoint families (no suggestions), mostly companies
MIX = ("companies", "companies", "investors", "attendees")
# the fan-out workload: companies and investors sharing the expo's popular tags, so that every
# company registration suggests itself to every investor
FANOUT_MIX = ("companies", "companies", "companies", "investors")
POPULAR_TAGS = ["elderly", "ai"]
VARIETY_TAGS = ["mobility", "health_safety", "iot", "robotics", "dementia", "big_data"]


def fanout_body(kind: str, email: str) -> dict:
    """A company or an investor carrying the popular tags, with a little variety."""
    common = {"name": "Fan-out Test", "email": email, "consents": {"privacy": True}}
    tags = POPULAR_TAGS + random.sample(VARIETY_TAGS, random.randint(0, 2))
    stages = ["idea", "seed", "pre_a", "series_a", "series_b_plus", "growth"]
    if kind == "companies":
        return {**common, "description": "fan-out", "tags": tags, "stage": random.choice(stages)}
    return {**common, "organisation": "Fan-out Fund", "interests": tags, "stages": random.sample(stages, 2)}


@dataclass
class Sent:
    kind: str
    email: str
    status: int | None = None  # None: no answer (connection refused, reset or timed out)
    registration_id: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Row:
    scenario: str
    sent: int
    acknowledged: int
    refused: int
    stored: int
    lost: int
    duplicated: int
    settle_seconds: float
    problems: list[str] = field(default_factory=list)

    HEADER = ("scenario", "sent", "acknowledged", "refused", "stored", "lost", "duplicated", "settle s")

    def cells(self) -> tuple:
        return (
            self.scenario,
            self.sent,
            self.acknowledged,
            self.refused,
            self.stored,
            self.lost,
            self.duplicated,
            f"{self.settle_seconds:.1f}",
        )


def table(rows: list[Row]) -> str:
    lines = [Row.HEADER, *(row.cells() for row in rows)]
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(Row.HEADER))]
    return "\n".join(
        " | ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)) for line in lines
    )


class Load:
    """Registrations sent at a steady rate, each from its own thread, answered or not: of the
    kinds in ``mix``, with bodies made by ``body(kind, email)``."""

    def __init__(
        self, platform: Platform, rate: float, mix: tuple[str, ...] = MIX, body=registration_body
    ) -> None:
        self.platform, self.rate, self.mix, self.body = platform, rate, mix, body
        self.sent: list[Sent] = []
        self.started = time.time()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=32)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Load":
        self.started = time.time()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        interval, next_at = 1.0 / self.rate, time.monotonic()
        while not self._stop.is_set():
            kind = random.choice(self.mix)
            sent = Sent(kind, f"fault-{uuid.uuid4().hex[:12]}@example.kr")
            self.sent.append(sent)
            self._pool.submit(self._post, sent)
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _post(self, sent: Sent) -> None:
        session = requests.Session()
        try:
            response = session.post(
                f"{self.platform.url}/api/v1/{sent.kind}",
                json=self.body(sent.kind, sent.email),
                timeout=30,
            )
            sent.status = response.status_code
            if response.status_code == 201:
                sent.registration_id = response.json()["id"]
        except requests.RequestException:
            sent.status = None
        finally:
            session.close()


def verify(
    platform: Platform, scenario: str, sent: list[Sent], settle_seconds: float, since: float = 0.0
) -> Row:
    """Acknowledged means stored once, in matching's read model, confirmed once, mailed once
    (confirmations are counted by their own Message-IDs, so suggestion digests in the same mail
    sink do not count for them). Besides, no e-mail the relay got since ``since`` (suggestion
    digests included) may have reached it before.

    Each store is read once, whole, and the requests are checked against that: the embedded
    store scans for most queries, so one query per request would take minutes."""
    client = MongoClient(platform.mongo_uri)
    try:
        stored_ids: dict[tuple[str, str], list[str]] = defaultdict(list)
        for document in client["registration"]["registrations"].find({}, {"email": 1, "kind": 1}):
            stored_ids[(document["kind"], document["email"])].append(document["_id"])
        in_read_model = {document["_id"] for document in client["matching"]["parties"].find({}, {"_id": 1})}
        confirmations_of: dict[str, list[dict]] = defaultdict(list)
        for notification in client["notification"]["notifications"].find(
            {"kind": "registration_confirmed"}, {"recipient_id": 1, "status": 1}
        ):
            confirmations_of[notification["recipient_id"]].append(notification)
        mails = Counter()
        recent = set()
        for path in (platform.var / "mail").glob("*.eml"):
            message_id = message_from_bytes(path.read_bytes(), policy=default_policy)["Message-ID"]
            mails[message_id] += 1
            if path.stat().st_mtime >= since:
                recent.add(message_id)
        stored = lost = duplicated = 0
        checked: set[str] = set()  # Message-IDs of the requests' confirmations
        problems = []
        singular = {"companies": "company", "investors": "investor", "attendees": "attendee"}
        for request in sent:
            kind = singular[request.kind]
            documents = stored_ids.get((kind, request.email), [])
            stored += bool(documents)
            if len(documents) > 1:
                duplicated += 1
                problems.append(f"{request.email}: stored {len(documents)} times")
                continue
            if not documents:
                if request.acknowledged:
                    lost += 1
                    problems.append(f"{request.email}: acknowledged but not stored")
                continue
            registration_id = documents[0]
            confirmations = confirmations_of.get(registration_id, [])
            confirmation_ids = [f"<{n['_id']}@tech-companion-expo>" for n in confirmations]
            checked.update(confirmation_ids)
            emails = sum(mails[message_id] for message_id in confirmation_ids)
            in_matching = kind == "attendee" or registration_id in in_read_model
            if len(confirmations) > 1 or emails > 1:
                duplicated += 1
                problems.append(f"{request.email}: {len(confirmations)} confirmations, {emails} e-mails")
            elif not (in_matching and confirmations and confirmations[0]["status"] == "sent" and emails == 1):
                lost += 1
                problems.append(
                    f"{request.email}: matching={in_matching} confirmations="
                    f"{[c['status'] for c in confirmations]} e-mails={emails}"
                )
        # every other e-mail (suggestion digests, ...) reaches the relay once too; those of
        # earlier scenarios on the same platform were checked by them
        for message_id in sorted(recent - checked):
            if (count := mails[message_id]) > 1:
                duplicated += 1
                problems.append(f"e-mail {message_id} (not a confirmation) sent {count} times")
        acknowledged = sum(request.acknowledged for request in sent)
        return Row(
            scenario,
            len(sent),
            acknowledged,
            len(sent) - acknowledged,
            stored,
            lost,
            duplicated,
            settle_seconds,
            problems,
        )
    finally:
        client.close()
