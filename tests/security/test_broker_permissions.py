"""Least privilege on the broker: a RabbitMQ user per service, with the rights
deploy/broker_permissions.py gives it, loaded into the broker from the same definitions
docker-compose loads (in a virtual host, and with user names, of the test's own). The whole
platform runs with those users, and each user is refused what its service does not need."""

import os
import secrets
import subprocess
import sys
import uuid

import pytest
from kombu import Connection, Exchange, Producer, Queue

from deploy.broker_permissions import ADMIN, NAMEKO_SERVICES, SERVICES, load_users, rabbitmqctl
from deploy.local import run
from shared.messaging import EVENTS_EXCHANGE, EventPublisher, service_queue
from shared.rpc import RPC_EXCHANGE
from tests.conftest import ROOT, wait_for
from tests.platform import ORGANISER_TOKEN, running_platform

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def users():
    """A virtual host and a user per service (and an admin), loaded as ``make run`` loads its
    own: service -> its AMQP URI."""
    prefix = f"tcx-test-{uuid.uuid4().hex[:8]}"
    names = {name: f"{prefix}-{name}" for name in (ADMIN, *SERVICES)}
    passwords = {name: secrets.token_urlsafe(16) for name in names}
    try:
        load_users(prefix, names, passwords)
        yield {name: f"pyamqp://{names[name]}:{passwords[name]}@127.0.0.1:5672/{prefix}" for name in names}
    finally:
        rabbitmqctl("delete_vhost", prefix, check=False)
        for name in names.values():
            rabbitmqctl("delete_user", name, check=False)


def _body(kind: str) -> dict:
    common = {
        "name": f"Least Privilege {kind}",
        "email": f"{kind}-{uuid.uuid4().hex[:8]}@example.kr",
        "consents": {"privacy": True},
    }
    if kind == "company":
        return {**common, "description": "care robots", "tags": ["elderly", "robotics"], "stage": "seed"}
    return {**common, "organisation": "Least Fund", "interests": ["elderly", "robotics"], "stages": ["seed"]}


def test_the_platform_runs_with_a_user_per_service(tmp_path, users):
    own_uris = {f"{service.upper()}_AMQP_URI": users[service] for service in SERVICES}
    with running_platform(tmp_path, **own_uris) as platform:
        company = platform.call("POST", "/api/v1/companies", json=_body("company"))
        investor = platform.call("POST", "/api/v1/investors", json=_body("investor"))
        assert company.status_code == investor.status_code == 201, company.text + investor.text
        company, investor = company.json(), investor.json()

        # registration's event reached matching, whose suggestion reached notification
        def matched():
            path = f"/api/v1/investors/{investor['id']}/matches"
            return platform.call("GET", path, investor["manage_token"]).json()["items"]

        (match,) = wait_for(matched, 10, message="the suggestion")
        assert match["company_id"] == company["id"]

        def told(token: str, kinds: set[str]):
            items = platform.call("GET", "/api/v1/notifications", token).json()["items"]
            return kinds <= {item["kind"] for item in items}

        wait_for(
            lambda: told(investor["manage_token"], {"registration_confirmed", "suggestion"}),
            10,
            message="the investor's confirmation and suggestion",
        )
        interest = platform.call(
            "POST",
            f"/api/v1/investors/{investor['id']}/matches/{company['id']}/interest",
            investor["manage_token"],
        )
        assert interest.status_code == 201, interest.text
        wait_for(lambda: told(company["manage_token"], {"interest_received"}), 10, message="the interest")

        # the gateway reads queue depths and every service's counts
        summary = platform.call("GET", "/api/v1/organiser/summary", ORGANISER_TOKEN)
        assert summary.status_code == 200, summary.text

        # a dead letter is replayed by its service, onto its own queue
        poison = {
            "event_id": str(uuid.uuid4()),
            "type": "matching.suggested",
            "version": 1,
            "occurred_at": "2026-01-01T00:00:00.000000Z",
            "payload": {"recipient_id": {"$ne": None}},
        }
        with Connection(users[ADMIN]) as connection:
            Producer(connection.default_channel, exchange=EVENTS_EXCHANGE).publish(
                poison, routing_key="matching.suggested", serializer="json"
            )
        path = f"/api/v1/organiser/dead-letters/notification/{poison['event_id']}"
        wait_for(lambda: platform.call("GET", path, ORGANISER_TOKEN).status_code == 200, 10, message="parked")
        replayed = platform.call("POST", path + "/replay", ORGANISER_TOKEN)
        assert replayed.status_code == 200, replayed.text
        wait_for(
            lambda: platform.call("GET", path, ORGANISER_TOKEN).json()["replays"] == 1,
            10,
            message="the replayed message parked again",
        )

        # each service's container probe, with the service's own user
        for service in NAMEKO_SERVICES:
            probe = subprocess.run(
                [sys.executable, "-m", "shared.healthcheck", service],
                cwd=ROOT,
                env={**os.environ, "AMQP_URI": users[service], "PYTHONWARNINGS": "ignore"},
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert probe.returncode == 0, probe.stderr

        refusals = {
            path.name: path.read_text(errors="replace").count("ACCESS_REFUSED")
            for path in (platform.var / "log").glob("*.log")
        }
        assert not any(refusals.values()), refusals


def test_the_event_publishers_declare_the_topology_and_replay_as_their_services_do(users):
    for service, event_type in (("registration", "registration.created"), ("matching", "matching.suggested")):
        EventPublisher(users[service]).publish({"type": event_type, "event_id": str(uuid.uuid4())})
    for service in ("matching", "notification"):
        EventPublisher(users[service]).publish_to_queue({"replayed": True}, service)


def _publish(exchange: Exchange, routing_key: str):
    def publish(connection: Connection) -> None:
        Producer(connection.channel()).publish({}, exchange=exchange, routing_key=routing_key, retry=False)

    return publish


def _consume(queue: str):
    def consume(connection: Connection) -> None:
        connection.channel().basic_consume(queue, callback=lambda message: None)

    return consume


def _bind(queue: str, exchange: Exchange, routing_key: str):
    def bind(connection: Connection) -> None:
        connection.channel().queue_bind(queue, exchange.name, routing_key)

    return bind


def _declare(queue: str):
    def declare(connection: Connection) -> None:
        Queue(queue, durable=True)(connection.channel()).declare()

    return declare


DEFAULT = Exchange("")
REFUSED = {
    "matching publishes registration.erased": ("matching", _publish(EVENTS_EXCHANGE, "registration.erased")),
    "matching calls registration.get": ("matching", _publish(RPC_EXCHANGE, "registration.get")),
    "matching reads notification.events": ("matching", _consume("notification.events")),
    "matching reads notification.matches": ("matching", _consume("notification.matches")),
    "matching reads notification.sign_in": ("matching", _consume("notification.sign_in")),
    "matching taps registration's requests": (
        "matching",
        _bind("matching.events", RPC_EXCHANGE, "registration.*"),
    ),
    "notification reads rpc-registration": ("notification", _consume("rpc-registration")),
    "notification publishes matching.suggested": (
        "notification",
        _publish(EVENTS_EXCHANGE, "matching.suggested"),
    ),
    "notification declares a queue of its own": ("notification", _declare("notification.snoop")),
    "registration publishes matching.suggested": (
        "registration",
        _publish(EVENTS_EXCHANGE, "matching.suggested"),
    ),
    "registration puts a message on notification's queue": (
        "registration",
        _publish(DEFAULT, service_queue("notification").name),
    ),
    "registration calls matching": ("registration", _publish(RPC_EXCHANGE, "matching.suggestions")),
    "registration calls itself beyond its probe": (
        "registration",
        _publish(RPC_EXCHANGE, "registration.get"),
    ),
    "registration reads matching.events": ("registration", _consume("matching.events")),
    "gateway publishes registration.erased": ("gateway", _publish(EVENTS_EXCHANGE, "registration.erased")),
    "gateway reads rpc-registration": ("gateway", _consume("rpc-registration")),
    "gateway reads matching.events": ("gateway", _consume("matching.events")),
    "gateway puts a message on matching's queue": ("gateway", _publish(DEFAULT, "matching.events")),
    "gateway calls a service that does not exist": ("gateway", _publish(RPC_EXCHANGE, "audit.read")),
}


@pytest.mark.parametrize("case", REFUSED)
def test_each_user_is_refused_what_its_service_does_not_need(users, case):
    service, attempt = REFUSED[case]
    # publisher confirms: a refused publish fails here, not later on the closed channel
    with Connection(users[service], transport_options={"confirm_publish": True}) as connection:
        with pytest.raises(Exception, match="ACCESS_REFUSED"):
            attempt(connection)


def test_make_run_gives_each_process_a_broker_user_of_its_own_and_guest_nothing_in_its_virtual_host(tmp_path):
    vhost, uris = run._own_broker(tmp_path)
    try:
        assert vhost == (tmp_path / "broker-vhost").read_text().strip() != "/"
        assert set(uris) == {ADMIN, *SERVICES}
        for uri in uris.values():
            with Connection(uri) as connection:
                connection.connect()
        # anyone else on the machine, with the broker's default user, cannot put an event there
        with pytest.raises(Exception, match="NOT_ALLOWED"):
            with Connection(f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}") as guest:
                guest.connect()
        # nor can one service publish another's events
        with Connection(uris["registration"]) as registration:
            EVENTS_EXCHANGE(registration.channel()).declare()
        with Connection(uris["matching"], transport_options={"confirm_publish": True}) as matching:
            with pytest.raises(Exception, match="ACCESS_REFUSED"):
                _publish(EVENTS_EXCHANGE, "registration.erased")(matching)
        # a restart keeps the users and their passwords
        assert run._own_broker(tmp_path) == (vhost, uris)
    finally:
        rabbitmqctl("delete_vhost", vhost, check=False)
        for name in uris:
            rabbitmqctl("delete_user", f"{vhost}-{name}", check=False)
