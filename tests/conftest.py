"""Fixtures that start real parts: a RabbitMQ virtual host of our own, an nx-27017 store server,
an SMTP server on loopback, and service processes run exactly as in production."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pymongo import MongoClient

from deploy.broker_permissions import rabbitmqctl
from deploy.local import mailsink
from deploy.local.run import store_command

ROOT = Path(__file__).resolve().parents[1]
# the key the gateway signs its callers with, in every platform and service the tests start
CALLER_SIGNING_KEY = "caller-signing-key-of-the-tests"
# the tests write to addresses at the example domains (RFC 2606), which a deployment refuses
os.environ.setdefault("EMAIL_RESERVED_DOMAINS_ALLOWED", "example.com,example.net,example.org,test")
BROKER = os.environ.get("TEST_BROKER", "guest:guest@127.0.0.1:5672")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """``count`` different free ports: held all at once while chosen, so none is chosen twice."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def at_once(work, times: int = 3, timeout: float = 60.0) -> None:
    """Run ``work`` in ``times`` threads at once, as that many instances would; the first error
    any of them raised is raised here."""
    with ThreadPoolExecutor(times) as pool:
        for running in [pool.submit(work) for _ in range(times)]:
            running.result(timeout)


def wait_for(condition, timeout: float = 10.0, interval: float = 0.05, message: str = "condition"):
    """Poll ``condition`` until it returns something truthy; return that, or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {message}")


@contextlib.contextmanager
def virtual_host():
    """A RabbitMQ virtual host of our own, so tests never meet another platform's queues."""
    if shutil.which("rabbitmqctl") is None:
        pytest.fail("rabbitmqctl is needed to make a test virtual host")
    vhost = f"tcx-test-{uuid.uuid4().hex[:8]}"
    rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, BROKER.split(":")[0], ".*", ".*", ".*")
    try:
        yield f"pyamqp://{BROKER}/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def amqp_uri():
    with virtual_host() as uri:
        yield uri


@pytest.fixture(scope="session")
def store_server(tmp_path_factory):
    """An nx-27017 server (MongoDB wire protocol over SQLite) on a free port.

    With TEST_MONGO_URI set, the tests use that MongoDB instead (to check conformance).
    """
    if os.environ.get("TEST_MONGO_URI"):
        yield {"uri": os.environ["TEST_MONGO_URI"], "port": None, "data": None, "process": None}
        return
    data = tmp_path_factory.mktemp("store")
    with embedded_store(data) as (uri, port, process):
        yield {"uri": uri, "port": port, "data": data, "process": process}


@contextlib.contextmanager
def embedded_store(data: Path):
    """Run an nx-27017 server with its data in ``data``; yields (uri, port, process)."""
    binary = ROOT / ".venv-store" / "bin" / "nx-27017"
    if not binary.exists():
        pytest.fail("the embedded store is not installed: run the tests with `make test`")
    port = free_port()
    log = (data / "store.log").open("wb")
    process = subprocess.Popen(
        store_command(data, port),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    client = MongoClient(uri, serverSelectionTimeoutMS=500)

    def answers() -> bool:
        try:
            return client.admin.command("ping")["ok"] == 1
        except Exception:
            return False

    try:
        wait_for(answers, 20, message="the store to answer")
        yield uri, port, process
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            # seen once at the end of a full run: the store did not stop within 10 s of SIGTERM;
            # its data is a temporary directory, thrown away after the session
            process.kill()
            process.wait(10)
        log.close()


@pytest.fixture
def mongo(store_server):
    client = MongoClient(store_server["uri"])
    yield client
    client.close()


@pytest.fixture
def smtp_sink(tmp_path):
    """A real SMTP server on loopback that keeps each message as a file."""
    port = free_port()
    directory = tmp_path / "mail"
    controller = mailsink.start("127.0.0.1", port, directory)
    yield {"port": port, "dir": directory}
    controller.stop()


def received_mail(directory: Path) -> list:
    from email import message_from_bytes, policy

    return [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(directory.glob("*.eml"))
    ]


def vouched(caller: dict) -> str:
    """``caller`` as the gateway vouches for it to the services the tests start."""
    from shared.caller_assertions import vouch

    return vouch(caller, CALLER_SIGNING_KEY)


def acting_for(registration_id: str) -> str:
    """Someone acting for ``registration_id``, as the gateway vouches for them once registration
    told it so."""
    return vouched({"registration_id": registration_id})


def unvouched(value):
    """An argument as the gateway meant it, its caller assertion opened (for the unit tests'
    stand-ins for the services); any other argument as it is."""
    from shared.caller_assertions import NotVouched, vouched_caller

    if isinstance(value, str):
        try:
            return vouched_caller(value, CALLER_SIGNING_KEY)
        except NotVouched:
            return value
    return value


def service_env(amqp_uri: str, mongo_uri: str, **extra: str) -> dict:
    from cryptography.fernet import Fernet

    env = {key: value for key, value in os.environ.items() if not key.startswith(("MONGO_", "SMTP_"))}
    env.update(
        AMQP_URI=amqp_uri,
        MONGO_URI=mongo_uri,
        SENSITIVE_DATA_KEY=Fernet.generate_key().decode(),
        CALLER_SIGNING_KEY=CALLER_SIGNING_KEY,
        LOG_FORMAT="text",
        PYTHONWARNINGS="ignore",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class ServiceProcess:
    """One nameko service, run as `nameko run` runs it in production."""

    def __init__(self, name: str, env: dict, log_path: Path) -> None:
        self.name, self.env, self.log_path = name, env, log_path
        self.process = None

    def start(self) -> "ServiceProcess":
        nameko = str(Path(sys.executable).with_name("nameko"))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [nameko, "run", "--config", f"services/{self.name}/config.yaml", f"{self.name}.service"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
