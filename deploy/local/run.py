"""Run the whole platform on this machine, as ``make run`` does, and keep it running.

Checks the broker (starting a local RabbitMQ if it is installed but stopped) and makes a virtual
host of its own for this var directory unless AMQP_URI is set, starts the embedded
MongoDB wire-protocol store unless MONGO_URI is set (one store process per service), a local mail
sink unless SMTP_HOST is set,
the three services and the gateway; prints where to open it; restarts any process that dies, as
a process supervisor would; and stops everything it started on Ctrl-C or SIGTERM.

Each process writes its log to ``var/log/<name>.log``. Settings come from the environment
(see the README's configuration table); ``--scale matching=2`` runs more instances of a service.
A process connects with its own URIs where ``<SERVICE>_AMQP_URI`` or ``<SERVICE>_MONGO_URI`` is
set (a user per service), and with ``AMQP_URI`` and ``MONGO_URI`` otherwise.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

from deploy.broker_permissions import ADMIN, load_users, rabbitmqctl, users_loaded
from deploy.broker_permissions import SERVICES as BROKER_USERS
from shared.messaging import broker_reachable

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registration", "matching", "notification")
# the secrets only some processes use, and those processes
SECRET_USERS = {
    "SENSITIVE_DATA_KEY": ("registration",),
    "GATEWAY_SECRET_KEY": ("gateway",),
    "ORGANISER_TOKEN": ("registration", "gateway"),
    "CALLER_SIGNING_KEY": (*SERVICES, "gateway"),
    # where no process has a URI of its own, they all use this one
    "AMQP_URI": (*SERVICES, "gateway"),
}
RESTART_BACKOFF_MAX = 30.0
STOP_GRACE_SECONDS = 20.0


def store_command(data_dir: Path, port: int, pid_name: str = "nx.pid") -> list[str]:
    """The command that runs the embedded store on 127.0.0.1:``port`` with its data in ``data_dir``.

    Its pid file (``pid_name``) is kept with its data: nx-27017 refuses to start while another
    instance's file exists. Its log goes to standard error only; by default it would also append
    to one file in the system's temporary directory, shared by every instance on the machine.
    """
    store = shutil.which("nx-27017", path=str(ROOT / ".venv-store" / "bin")) or "nx-27017"
    return [
        store,
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "-p",
        str(port),
        "--pid-file",
        str(data_dir / pid_name),
        "--log-file",
        os.devnull,
    ]


def own_environment(env: dict[str, str], process: str) -> dict[str, str]:
    """The environment of one process: a service's own broker and store URIs, when given as
    ``<SERVICE>_AMQP_URI`` and ``<SERVICE>_MONGO_URI``, become its ``AMQP_URI`` and ``MONGO_URI``
    (so that each connects as its own user), and no process sees another's; a secret reaches
    only the processes that use it (SECRET_USERS), as in docker-compose."""
    service = process.partition("-")[0]
    own = {
        key: value
        for key, value in env.items()
        if not _per_service(key) and service in SECRET_USERS.get(key, (service,))
    }
    for name in ("AMQP_URI", "MONGO_URI"):
        if f"{service.upper()}_{name}" in env:
            own[name] = env[f"{service.upper()}_{name}"]
    return own


def _per_service(key: str) -> bool:
    service, _, name = key.partition("_")
    return name in ("AMQP_URI", "MONGO_URI") and service.lower() in (*SERVICES, "gateway")


@dataclass
class Process:
    name: str
    command: list[str]
    log_path: Path
    ready_port: int | None = None
    popen: subprocess.Popen | None = None
    restarts: int = 0
    next_start: float = 0.0
    started_at: float = field(default=0.0)

    def start(self, env: dict[str, str]) -> None:
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=own_environment(env, self.name),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the runner, which stops children in order
        )
        log.close()
        self.started_at = time.monotonic()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()

    def wait_stopped(self, deadline: float) -> None:
        if self.popen is None:
            return
        try:
            self.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


class Runner:
    def __init__(self, env: dict[str, str], processes: list[Process]) -> None:
        self.env = env
        self.processes = processes
        self.stopping = False

    def run(self, gateway_url: str, banner: str) -> int:
        signal.signal(signal.SIGINT, self._request_stop)
        signal.signal(signal.SIGTERM, self._request_stop)
        try:
            for process in self.processes:
                process.start(self.env)
                if process.ready_port:
                    _wait_for_port(process.ready_port, 30, process)
            if _wait_ready(gateway_url, 90, lambda: self.stopping):
                print(banner, flush=True)
            elif not self.stopping:
                print(
                    f"The platform is not ready yet; see the logs in {self.env['VAR_DIR']}/log/", flush=True
                )
            while not self.stopping:
                self._supervise()
                time.sleep(0.5)
        finally:
            self._stop_all()
        return 0

    def _supervise(self) -> None:
        now = time.monotonic()
        for process in self.processes:
            code = process.popen.poll() if process.popen else None
            if code is None and process.popen is not None:
                continue
            if process.popen is not None:
                # a process that ran a while before dying gets a fresh backoff
                if now - process.started_at > 60:
                    process.restarts = 0
                delay = min(RESTART_BACKOFF_MAX, 2.0**process.restarts)
                process.next_start = now + delay
                process.restarts += 1
                process.popen = None
                print(f"{process.name} exited with {code}; restarting in {delay:.0f} s", flush=True)
            elif now >= process.next_start:
                process.start(self.env)

    def _stop_all(self) -> None:
        print("stopping ...", flush=True)
        # the gateway first, the store last: in-flight requests finish against live services
        for process in reversed(self.processes):
            process.stop()
            process.wait_stopped(time.monotonic() + STOP_GRACE_SECONDS)
        print("stopped", flush=True)

    def _request_stop(self, *_: object) -> None:
        self.stopping = True


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the Tech Companion Expo platform locally.")
    parser.add_argument(
        "--scale",
        action="append",
        default=[],
        metavar="SERVICE=N",
        help="run N instances of a service, e.g. --scale matching=2",
    )
    arguments = parser.parse_args()
    scale = _parse_scale(arguments.scale)

    var = Path(os.environ.get("VAR_DIR", ROOT / "var")).resolve()
    (var / "log").mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("VAR_DIR", str(var))
    env.setdefault("LOG_FORMAT", "text")
    env.setdefault(
        "ORGANISER_TOKEN", _kept_secret(var / "organiser-token", lambda: secrets.token_urlsafe(24))
    )
    env.setdefault(
        "SENSITIVE_DATA_KEY", _kept_secret(var / "sensitive-data.key", lambda: Fernet.generate_key().decode())
    )
    env.setdefault(
        "GATEWAY_SECRET_KEY", _kept_secret(var / "gateway-secret.key", lambda: secrets.token_urlsafe(32))
    )
    env.setdefault(
        "CALLER_SIGNING_KEY", _kept_secret(var / "caller-signing.key", lambda: secrets.token_urlsafe(32))
    )
    env.setdefault("ORGANISER_EMAILS", "organiser@expo.example.org")
    gateway_bind = env.setdefault("GATEWAY_BIND", "127.0.0.1:8000")
    gateway_url = "http://" + gateway_bind.replace("0.0.0.0", "127.0.0.1")  # noqa: S104 - a URL, not a bind
    env.setdefault("PUBLIC_BASE_URL", gateway_url)
    env["PYTHONUNBUFFERED"] = "1"

    broker_note = f"AMQP_URI={_without_password(env.get('AMQP_URI', ''))} (external)"
    if "AMQP_URI" not in os.environ:
        vhost, users = _own_broker(var)
        env["AMQP_URI"] = f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}"
        broker_note = f"RabbitMQ on 127.0.0.1:5672, virtual host {vhost!r} (this var directory's own)"
        if users:
            env["AMQP_URI"] = users[ADMIN]
            for process in BROKER_USERS:
                env.setdefault(f"{process.upper()}_AMQP_URI", users[process])
            broker_note += ", a user per process (passwords in var/broker-passwords.json)"
    own_users = sorted(key for key in os.environ if _per_service(key))
    if own_users:
        broker_note += f"; own URIs: {', '.join(own_users)}"
    amqp_uri = env["AMQP_URI"]
    if not broker_reachable(amqp_uri, timeout=3):
        print(
            f"RabbitMQ is not reachable at {_without_password(amqp_uri)}.\n"
            "Start it (for example: rabbitmq-server -detached) or set AMQP_URI, then try again.",
            file=sys.stderr,
        )
        return 1

    processes: list[Process] = []
    store_note = f"MONGO_URI={_without_password(env.get('MONGO_URI', ''))} (external)"
    if "MONGO_URI" not in os.environ:
        port = int(env.get("MONGO_PORT", "27017"))
        own_ports = {
            service: int(env.get(f"{service.upper()}_MONGO_PORT", str(port + offset)))
            for offset, service in enumerate(("matching", "notification"), start=1)
        }
        taken = [number for number in (port, *own_ports.values()) if _port_open(number)]
        if taken:
            print(
                f"Port {taken[0]} is taken. Set MONGO_PORT (and MATCHING_MONGO_PORT, "
                "NOTIFICATION_MONGO_PORT: the next two by default) to free ports, or MONGO_URI to "
                "your MongoDB.",
                file=sys.stderr,
            )
            return 1
        (var / "mongo").mkdir(exist_ok=True)
        env["MONGO_URI"] = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        processes.append(Process("store", store_command(var / "mongo", port), var / "log/store.log", port))
        store_note = f"embedded (nx-27017) on 127.0.0.1:{port}, data in {var / 'mongo'}"
        # The embedded store is one Python process: it works on one core, one operation at a time.
        # Matching and notification get store processes of their own on the next ports, so a
        # burst of their bulk writes never holds up a registration. All three serve the same
        # data directory, where each database is a file of its own: each service writes only its
        # own, and tools may read any database through any of them.
        for service, own_port in own_ports.items():
            if f"{service.upper()}_MONGO_URI" in os.environ:
                continue
            env[f"{service.upper()}_MONGO_URI"] = f"mongodb://127.0.0.1:{own_port}/?directConnection=true"
            command = store_command(var / "mongo", own_port, pid_name=f"nx-{service}.pid")
            processes.append(Process(f"store-{service}", command, var / f"log/store-{service}.log", own_port))
        store_note += (
            f"; matching's on port {own_ports['matching']}, notification's on {own_ports['notification']}"
        )

    mail_note = f"SMTP relay {env.get('SMTP_HOST')}:{env.get('SMTP_PORT', '25')}"
    if "SMTP_HOST" not in os.environ:
        smtp_port = int(env.setdefault("SMTP_PORT", "1025"))
        env["SMTP_HOST"] = "127.0.0.1"
        processes.append(
            Process(
                "mailsink",
                [
                    sys.executable,
                    "-m",
                    "deploy.local.mailsink",
                    "--port",
                    str(smtp_port),
                    "--dir",
                    str(var / "mail"),
                ],
                var / "log/mailsink.log",
                smtp_port,
            )
        )
        mail_note = f"local mail sink on 127.0.0.1:{smtp_port}; messages kept in {var / 'mail'}"
        # every message stays in the sink, so the example domains of the seed and the default
        # organiser address may be used
        env.setdefault("EMAIL_RESERVED_DOMAINS_ALLOWED", "example.com,example.net,example.org,test")

    nameko = str(Path(sys.executable).with_name("nameko"))
    for service in SERVICES:
        for instance in range(1, scale.get(service, 1) + 1):
            name = service if instance == 1 else f"{service}-{instance}"
            processes.append(
                Process(
                    name,
                    [nameko, "run", "--config", f"services/{service}/config.yaml", f"{service}.service"],
                    var / f"log/{name}.log",
                )
            )
    processes.append(
        Process(
            "gateway",
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "--config",
                "services/gateway/gunicorn.conf.py",
                "gateway.app:create_app()",
            ],
            var / "log/gateway.log",
        )
    )

    banner = "\n".join(
        [
            "",
            "Tech Companion Expo is running.",
            f"  Web:            {gateway_url}/",
            f"  API docs:       {gateway_url}/api/docs   (OpenAPI: {gateway_url}/api/openapi.json)",
            f"  Readiness:      {gateway_url}/readyz",
            f"  Organisers:     sign in at {gateway_url}/sign-in as {env['ORGANISER_EMAILS']}"
            " (the link arrives by mail)",
            f"  Organiser token: {env['ORGANISER_TOKEN']}   (for programs using the API)",
            f"  Broker:         {broker_note}",
            f"  Store:          {store_note}",
            f"  Mail:           {mail_note}",
            f"  Logs:           {var / 'log'}",
            "Press Ctrl-C to stop.",
            "",
        ]
    )
    return Runner(env, processes).run(gateway_url, banner)


def _parse_scale(values: list[str]) -> dict[str, int]:
    scale = {}
    for value in values:
        service, _, count = value.partition("=")
        if service not in SERVICES or not count.isdigit() or int(count) < 1:
            raise SystemExit(f"--scale takes SERVICE=N with SERVICE one of {', '.join(SERVICES)}")
        scale[service] = int(count)
    return scale


def _kept_secret(path: Path, make: object) -> str:
    """A secret generated once and kept under var/, so restarts keep tokens and keys valid. The
    file is made readable by its owner only before anything is written to it."""
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as secret:
            secret.write(make())
    return path.read_text().strip()


def _own_broker(var: Path) -> tuple[str, dict[str, str] | None]:
    """This var directory's own RabbitMQ virtual host, made on its first run, so that a new
    install never meets the messages of another on the same broker, and the URIs of its users:
    one per process, each with only the rights its service needs (deploy/broker_permissions.py,
    as docker-compose and Kubernetes give them), and an admin for operators; guest has none
    there. A var directory that an earlier version ran in the default virtual host ("/") stays
    there with guest: its messages are there. Without a working rabbitmqctl (a broker elsewhere,
    no rights), the default virtual host and guest."""
    kept = var / "broker-vhost"
    if not kept.exists():
        earlier_run = (var / "mongo").exists()
        kept.write_text("/" if earlier_run else f"tech-companion-expo-{secrets.token_hex(4)}")
    vhost = kept.read_text().strip()
    if vhost == "/":
        return vhost, None
    if shutil.which("rabbitmqctl") is None:
        print("rabbitmqctl not found: using the default virtual host.", file=sys.stderr)
        return "/", None
    names = {name: f"{vhost}-{name}" for name in (ADMIN, *BROKER_USERS)}
    kept_passwords = var / "broker-passwords.json"
    new_passwords = not kept_passwords.exists()
    made = {name: secrets.token_urlsafe(24) for name in names}
    passwords = json.loads(_kept_secret(kept_passwords, lambda: json.dumps(made)))
    try:
        if new_passwords or not users_loaded(vhost):
            load_users(vhost, names, passwords)
        # a virtual host made by an earlier version let guest do anything in it
        rabbitmqctl("clear_permissions", "-p", vhost, "guest", check=False)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, TimeoutError) as error:
        print(f"rabbitmqctl failed ({error}): using the default virtual host.", file=sys.stderr)
        return "/", None
    return vhost, {name: f"pyamqp://{names[name]}:{passwords[name]}@127.0.0.1:5672/{vhost}" for name in names}


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_port(port: int, seconds: float, process: Process) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(port):
            return
        if process.popen and process.popen.poll() is not None:
            break
        time.sleep(0.1)
    raise SystemExit(f"{process.name} did not start listening on port {port}; see {process.log_path}")


def _wait_ready(url: str, seconds: float, stopping: object) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not stopping():
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=3) as response:  # noqa: S310 - our own URL
                if response.status == 200:
                    return True
        except Exception:  # noqa: S110 - not ready yet
            pass
        time.sleep(0.5)
    return False


def _without_password(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{credentials.split(':')[0]}:***@{host}" if at else uri


if __name__ == "__main__":
    sys.exit(main())
