"""The whole platform, started by the same runner as `make run`, on free ports and a RabbitMQ
virtual host of its own; used by the end-to-end and fault tests and by the benchmarks."""

import contextlib
import os
import random
import signal
import subprocess
import sys
import time

import requests
from pymongo import MongoClient

from shared import clock
from shared.messaging import SUBSCRIPTIONS, service_queues
from shared.messaging import queue_depths as shared_queue_depths
from tests.conftest import CALLER_SIGNING_KEY, ROOT, free_ports, virtual_host, wait_for

ORGANISER_TOKEN = "organiser-e2e-token"


# companies and investors get tags from different families, so no suggestion is made: streams of
# these measure registrations, not the fan-out of suggestion e-mails
COMPANY_TAGS = ["elderly", "dementia", "hearing_impairment", "low_income", "children_youth"]
INVESTOR_TAGS = ["ai", "iot", "robotics", "wearables", "metaverse"]


def registration_body(kind: str, email: str) -> dict:
    """A registration of ``kind`` ("companies", "investors" or "attendees") that makes no suggestion."""
    common = {"name": "Load Test", "email": email, "consents": {"privacy": True}}
    if kind == "companies":
        return {
            **common,
            "description": "load test",
            "tags": random.sample(COMPANY_TAGS, 2),
            "stage": "seed",
        }
    if kind == "investors":
        return {
            **common,
            "organisation": "Load Fund",
            "interests": random.sample(INVESTOR_TAGS, 2),
            "stages": ["seed", "pre_a"],
        }
    return {**common, "attendee_type": "citizen", "interests": random.sample(COMPANY_TAGS, 1)}


class Platform:
    def __init__(self, url: str, var, runner: subprocess.Popen, amqp_uri: str, mongo_uri: str) -> None:
        self.url, self.var, self.runner, self.amqp_uri, self.mongo_uri = url, var, runner, amqp_uri, mongo_uri
        self.http = requests.Session()

    def call(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.url + path, headers=headers, timeout=15, **kwargs)

    def post_past_shedding(self, path: str, body: dict, attempts: int = 20) -> requests.Response:
        """POST ``body``, sent again a second later while the gateway sheds it (503), at most
        ``attempts`` times; the last answer."""
        for _ in range(attempts):
            answer = self.call("POST", path, json=body)
            if answer.status_code != 503:
                break
            time.sleep(1)
        return answer

    def children(self, pattern: str) -> list[int]:
        found = subprocess.run(
            ["pgrep", "-P", str(self.runner.pid), "-f", pattern], capture_output=True, text=True
        )
        return [int(pid) for pid in found.stdout.split()]


# six seconds: the first suggestions digest is due a window after the registration, and tests
# that read one wait for it
SHORT_DIGEST_MINUTES = "0.1"


@contextlib.contextmanager
def running_platform(var, **settings: str):
    """Start the platform with ``make run``'s runner; stop it with Ctrl-C (SIGINT) afterwards and
    check that nothing it started is left running."""
    port, mongo_port, matching_mongo_port, notification_mongo_port, smtp_port = free_ports(5)
    with virtual_host() as amqp_uri:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MONGO_", "SMTP_", "GATEWAY_", "ORGANISER_", "SENSITIVE_"))
        }
        env.update(
            AMQP_URI=amqp_uri,
            VAR_DIR=str(var),
            GATEWAY_BIND=f"127.0.0.1:{port}",
            MONGO_PORT=str(mongo_port),
            MATCHING_MONGO_PORT=str(matching_mongo_port),
            NOTIFICATION_MONGO_PORT=str(notification_mongo_port),
            SMTP_PORT=str(smtp_port),
            ORGANISER_TOKEN=ORGANISER_TOKEN,
            CALLER_SIGNING_KEY=CALLER_SIGNING_KEY,
            PYTHONWARNINGS="ignore",
            # the tests and benchmarks send everything from one address; the limits per client
            # are tested on their own
            REGISTRATIONS_PER_CLIENT_PER_MINUTE="0",
            SIGN_INS_PER_CLIENT_PER_MINUTE="0",
        )
        env.update(settings)
        log = (var / "runner.log").open("wb")
        runner = subprocess.Popen(
            [sys.executable, "-m", "deploy.local.run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"

        def ready():
            assert runner.poll() is None, (var / "runner.log").read_text()
            try:
                return requests.get(url + "/readyz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        try:
            wait_for(ready, 120, interval=0.3, message="the platform to be ready")
            yield Platform(
                url, var, runner, amqp_uri, f"mongodb://127.0.0.1:{mongo_port}/?directConnection=true"
            )
        finally:
            # also when what ran on the platform failed: nothing it started may outlive it
            started = subprocess.run(
                ["pgrep", "-P", str(runner.pid)], capture_output=True, text=True
            ).stdout.split()
            runner.send_signal(signal.SIGINT)
            runner.wait(60)
            time.sleep(0.5)
        left = [pid for pid in started if os.path.exists(f"/proc/{pid}")]
        assert not left, f"processes left running after Ctrl-C: {left}"


def queue_depths(platform: Platform) -> dict[str, int]:
    return queue_depths_of(platform.amqp_uri)


def queue_depths_of(amqp_uri: str) -> dict[str, int]:
    """Messages ready in each service's event queues (a passive declare changes nothing)."""
    depths = shared_queue_depths(amqp_uri)
    return {
        service: sum(depths[queue.name]["messages"] for queue in service_queues(service))
        for service in SUBSCRIPTIONS
    }


# the aggregates whose outboxes hold events not yet published, by database
OUTBOXES = {"registration": ("registrations",), "matching": ("parties", "suggestions", "interests")}


def pending_work(platform: Platform) -> dict[str, int]:
    """What is still to be done: messages in the queues, events in outboxes, notifications not
    yet sent. Asked of the broker and the stores directly, with one query each: the organiser
    summary counts everything, which on the embedded store means scanning every collection."""
    pending = {f"queue {name}": depth for name, depth in queue_depths(platform).items()}
    if any(pending.values()):
        return pending
    client = MongoClient(platform.mongo_uri, serverSelectionTimeoutMS=3000)
    try:
        for database, collections in OUTBOXES.items():
            for collection in collections:
                found = client[database][collection].find_one({"outbox_pending": {"$gt": 0}}, {"_id": 1})
                pending[f"outbox {database}.{collection}"] = int(found is not None)
        # a suggestion digest waiting for its window is scheduled, not pending
        now = clock.now_iso()
        unsent = client["notification"]["notifications"].find(
            {"status": {"$in": ["queued", "sending"]}}, {"kind": 1, "status": 1, "due_at": 1}
        )
        pending["notifications unsent"] = sum(
            1
            for document in unsent
            if not (
                document["kind"] == "suggestions_digest"
                and document["status"] == "queued"
                and document["due_at"] > now
            )
        )
    finally:
        client.close()
    return pending


def settle(platform: Platform, timeout: float = 240.0) -> float:
    """Seconds until nothing is pending anywhere (queues, outboxes, unsent notifications); what
    is still pending is printed every 30 s, to tell why a settle is slow."""
    started = time.monotonic()
    quiet_since = None
    next_report = started + 30
    while time.monotonic() - started < timeout:
        try:
            pending = pending_work(platform)
        except Exception as error:  # the broker or the store may still be coming back
            pending = {"unanswered": repr(error)[:120]}
        if not any(pending.values()):
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 3:
                return quiet_since - started
        else:
            quiet_since = None
        if time.monotonic() >= next_report:
            print(f"  still pending after {time.monotonic() - started:.0f} s: {pending}", flush=True)
            next_report += 30
        time.sleep(0.5)
    return float("inf")
