"""What each process of the platform may do on RabbitMQ: the one place its users, virtual host and
permissions are defined, for docker-compose, Kubernetes operators and the tests.

Every name comes from the code that uses it:

* events (``shared/messaging.py``): one topic exchange, ``expo.events``, routed by event type,
  and each subscriber's queues ``<service>.<stream>``. Publishers declare the whole topology (so
  an event published before its subscriber first starts waits for it): every service that
  publishes or replays events declares every event queue and binds it, which takes configure
  and write on those queues and read on the exchange. A service publishes only the types named
  after it (``registration.*``, ``matching.*``); a consuming service replays a dead letter onto
  its own queue through the default exchange (``shared/deadletters.py``).
* RPC (nameko, ``shared/rpc.py``): requests go to the topic exchange ``nameko-rpc`` with the
  routing key ``<service>.<method>``; each service declares and reads its queue
  ``rpc-<service>``, bound with ``<service>.*``. A caller reads replies on an exclusive queue
  ``rpc.reply-gateway-<uuid>`` bound to ``nameko-rpc`` with the routing key ``<uuid>``, and a
  service publishes each reply to ``nameko-rpc`` with that key. The gateway calls every
  service; a service calls only itself, from its container's probe (``shared.healthcheck``,
  run with the service's own user).

RabbitMQ checks configure, write and read against one regular expression per user and
virtual host, and, on topic exchanges, the routing key of each message published (write) and
the key of each binding (read) against a topic permission. A user with no topic permission on
an exchange may use any key there, so every user gets one on each topic exchange.

    python -m deploy.broker_permissions --definitions > deploy/rabbitmq/definitions.json

writes the definitions RabbitMQ loads (users, the virtual host, permissions), each user without
a password (``password_hash`` empty: no login) until one is set.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass

from shared.messaging import EVENTS_EXCHANGE, SUBSCRIPTIONS, service_queues
from shared.rpc import RPC_EXCHANGE

VHOST = "tech-companion-expo"
NAMEKO_SERVICES = ("registration", "matching", "notification")
SERVICES = (*NAMEKO_SERVICES, "gateway")
# The operators' user (management UI): every right in the platform's virtual host, no service
# uses it.
ADMIN = "admin"

# The consuming services replay their dead letters (shared/deadletters.py: DeadLetterRpc).
REPLAYING_SERVICES = tuple(SUBSCRIPTIONS)
# Who calls whom over RPC (the gateway's ``upstream.call``); no service calls another.
RPC_CALLS: dict[str, tuple[str, ...]] = {"gateway": NAMEKO_SERVICES}

# RabbitMQ checks a publish to the default exchange ("") as a write on this name.
DEFAULT_EXCHANGE = "amq.default"
# str(uuid.uuid4()): a reply queue's routing key (shared/rpc.py, RpcClient._connect)
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
REPLY_QUEUE = rf"rpc\.reply-gateway-{_UUID}"
_METHOD = "[a-z0-9_]+"
# RabbitMQ's "nothing": no name a process uses is empty
NOTHING = "^$"


@dataclass(frozen=True)
class Permissions:
    """A user's rights in the platform's virtual host: anchored regular expressions."""

    configure: str
    write: str
    read: str
    # topic exchange -> (write: routing keys it may publish, read: keys it may bind with)
    topics: dict[str, tuple[str, str]]


def _literal(name: str) -> str:
    """``name`` as a regular expression matching only itself (names hold letters, digits, ``_``,
    ``-``, ``.`` and the ``*`` of a binding key)."""
    assert re.fullmatch(r"[A-Za-z0-9_.*-]+", name), name
    return re.sub(r"([.*])", r"\\\1", name)


def _any_of(*patterns: str) -> str:
    return f"^({'|'.join(patterns)})$" if patterns else NOTHING


def event_queues() -> list[str]:
    return [queue.name for service in SUBSCRIPTIONS for queue in service_queues(service)]


def event_types() -> list[str]:
    return sorted({key for streams in SUBSCRIPTIONS.values() for keys in streams.values() for key in keys})


def published_event_types(service: str) -> list[str]:
    """The event types ``service`` publishes: each type is named after its publisher."""
    return [key for key in event_types() if key.startswith(f"{service}.")]


def permissions(service: str) -> Permissions:
    if service in RPC_CALLS and service not in NAMEKO_SERVICES:
        return _caller_permissions(service)
    return _service_permissions(service)


def _service_permissions(service: str) -> Permissions:
    rpc_exchange, events_exchange = _literal(RPC_EXCHANGE.name), _literal(EVENTS_EXCHANGE.name)
    own_rpc_queue = _literal(f"rpc-{service}")
    consumed = [queue.name for queue in service_queues(service)] if service in SUBSCRIPTIONS else []
    published = published_event_types(service)
    every_event_queue = [_literal(name) for name in event_queues()]
    # its own RPC queue, the probe's reply queue, and the event topology it declares
    declared = [rpc_exchange, own_rpc_queue, REPLY_QUEUE, events_exchange, *every_event_queue]
    written = [rpc_exchange, own_rpc_queue, REPLY_QUEUE, *every_event_queue]
    if published:
        written.append(events_exchange)
    if service in REPLAYING_SERVICES:
        written.append(_literal(DEFAULT_EXCHANGE))
    read = [rpc_exchange, own_rpc_queue, REPLY_QUEUE, events_exchange, *map(_literal, consumed)]
    return Permissions(
        configure=_any_of(*declared),
        write=_any_of(*written),
        read=_any_of(*read),
        topics={
            # publishes replies (to a reply key) and its probe's request; binds its RPC queue
            # and its probe's reply queue
            RPC_EXCHANGE.name: (
                _any_of(_literal(f"{service}.health"), _UUID),
                _any_of(_literal(f"{service}.*"), _UUID),
            ),
            # publishes its own event types; binds every event queue it declares
            EVENTS_EXCHANGE.name: (
                _any_of(*map(_literal, published)),
                _any_of(*map(_literal, event_types())),
            ),
        },
    )


def _caller_permissions(service: str) -> Permissions:
    """A process that only calls services (the gateway): its reply queues and ``nameko-rpc``."""
    rpc_exchange = _literal(RPC_EXCHANGE.name)
    callees = "|".join(map(_literal, RPC_CALLS[service]))
    own = _any_of(rpc_exchange, REPLY_QUEUE)
    return Permissions(
        configure=own,
        write=own,
        read=own,
        topics={
            RPC_EXCHANGE.name: (_any_of(f"({callees})\\.{_METHOD}"), _any_of(_UUID)),
            EVENTS_EXCHANGE.name: (NOTHING, NOTHING),
        },
    )


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    salt = os.urandom(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(
    vhost: str = VHOST,
    users: Mapping[str, str] | None = None,
    password_hashes: Mapping[str, str] | None = None,
) -> dict:
    """RabbitMQ definitions: the virtual host, a user per service (``users`` maps a service, or
    ``admin``, to its user name; by default the same) and their permissions.

    A user whose hash ``password_hashes`` does not give has none: it cannot log in until its
    password is set (deploy/rabbitmq/entrypoint.sh fills every hash from the environment)."""
    users = {name: name for name in (*SERVICES, ADMIN)} | dict(users or {})
    password_hashes = password_hashes or {}
    return {
        "users": [
            {
                # entrypoint.sh finds a user's hash on the line after its name: keep this order
                "name": users[name],
                "password_hash": password_hashes.get(name, ""),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": ["administrator"] if name == ADMIN else [],
            }
            for name in (ADMIN, *SERVICES)
        ],
        "vhosts": [{"name": vhost}],
        "permissions": [
            {"user": users[ADMIN], "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"},
            *(
                {
                    "user": users[service],
                    "vhost": vhost,
                    "configure": rights.configure,
                    "write": rights.write,
                    "read": rights.read,
                }
                for service, rights in ((service, permissions(service)) for service in SERVICES)
            ),
        ],
        "topic_permissions": [
            {"user": users[service], "vhost": vhost, "exchange": exchange, "write": write, "read": read}
            for service in SERVICES
            for exchange, (write, read) in permissions(service).topics.items()
        ],
    }


def render(definitions_: dict) -> str:
    return json.dumps(definitions_, indent=2, ensure_ascii=False) + "\n"


def rabbitmqctl(*args: str, check: bool = True) -> str:
    """What ``rabbitmqctl -q`` prints (the local broker's own tool)."""
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], check=check, capture_output=True, text=True, timeout=120
    ).stdout


def load_users(
    vhost: str, names: Mapping[str, str], passwords: Mapping[str, str], timeout: float = 30
) -> None:
    """Make ``vhost`` and a user per process on the local broker, with the rights this module
    gives (``names`` maps a service, or ``admin``, to its user name; ``passwords`` to its
    password), by ``rabbitmqctl import_definitions``; returns once they hold."""
    hashes = {name: password_hash(password) for name, password in passwords.items()}
    loaded = definitions(vhost, names, hashes)
    # rabbitmqctl may run as the broker's system user: the file must be readable by anyone (it
    # holds salted hashes of the passwords), and is removed at once
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        file.write(render(loaded))
        file.flush()
        os.chmod(file.name, 0o644)
        rabbitmqctl("import_definitions", file.name)
    deadline = time.monotonic() + timeout
    while not users_loaded(vhost, loaded):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the broker did not take the users of {vhost!r} in {timeout:.0f} s")
        time.sleep(0.2)


def users_loaded(vhost: str, loaded: dict | None = None) -> bool:
    """Whether every topic permission of ``vhost``'s users is in place: the import goes on
    after rabbitmqctl returns, and topic permissions come last."""
    expected = len((loaded or definitions(vhost))["topic_permissions"])
    listed = rabbitmqctl("list_topic_permissions", "-p", vhost, check=False)
    # a line of column headings, then a line per permission
    return len(listed.splitlines()) == expected + 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.broker_permissions", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--definitions", action="store_true", help="print RabbitMQ definitions (JSON)")
    parser.add_argument("--vhost", default=VHOST)
    arguments = parser.parse_args(argv)
    if arguments.definitions:
        sys.stdout.write(render(definitions(arguments.vhost)))
        return 0
    for service in SERVICES:
        rights = permissions(service)
        print(service)
        for kind in ("configure", "write", "read"):
            print(f"  {kind:9} {getattr(rights, kind)}")
        for exchange, (write, read) in rights.topics.items():
            print(f"  topic {exchange}: write {write}  read {read}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
