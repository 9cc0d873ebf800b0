"""Faults injected for real while registrations stream in; nothing acknowledged may be lost or
doubled. `make fault` runs every scenario; `make test` runs the short form (FAULT_SUITE unset)."""

import os
import signal
import subprocess
import time

import pytest
import requests

from deploy.broker_permissions import rabbitmqctl
from tests.conftest import wait_for
from tests.fault.harness import FANOUT_MIX, Load, Row, fanout_body, table, verify
from tests.platform import Platform, running_platform, settle

pytestmark = pytest.mark.fault

FULL = os.environ.get("FAULT_SUITE") == "full"
RATE = 20.0  # registrations per second
BEFORE, AFTER = (5.0, 15.0) if FULL else (3.0, 6.0)  # seconds of load around each fault
ROWS: list[Row] = []


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    # retries after a mail relay outage come after 1, 2, 4 ... s instead of 5, 10, 20 ... s; the
    # digests of suggestions fall due five minutes after each registration, so during the later
    # scenarios, as the first digests did when they went at once
    with running_platform(
        tmp_path_factory.mktemp("var"), SMTP_RETRY_BASE_SECONDS="1", SUGGESTION_DIGEST_MINUTES="5"
    ) as running:
        yield running
    print("\n" + table(ROWS))


def only_child(platform: Platform, pattern: str) -> int:
    return wait_for(
        lambda: (pids := platform.children(pattern)) and len(pids) == 1 and pids[0],
        30,
        message=f"one {pattern} process",
    )


def restarted(platform: Platform, pattern: str, old_pid: int) -> None:
    wait_for(
        lambda: (pids := platform.children(pattern)) and old_pid not in pids,
        30,
        message=f"{pattern} to be restarted",
    )
    wait_for(lambda: _ready(platform), 60, interval=0.3, message="the platform to be ready again")


def _ready(platform: Platform) -> bool:
    try:
        return requests.get(platform.url + "/readyz", timeout=3).status_code == 200
    except requests.RequestException:
        return False


def kill_9(service: str):
    def inject(platform: Platform) -> None:
        pid = only_child(platform, f"{service}.service")
        os.kill(pid, signal.SIGKILL)
        restarted(platform, f"{service}.service", pid)

    return inject


def kill_9_gateway_worker(platform: Platform) -> None:
    master = only_child(platform, "gunicorn")
    workers = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    os.kill(int(workers[0]), signal.SIGKILL)


def broker_restart(platform: Platform) -> None:
    """Services and gateway ride it out themselves: none of them is restarted."""
    processes = set(platform.children(""))
    rabbitmqctl("stop_app")
    # readiness is checked in the background at most once a second: it turns within seconds
    wait_for(lambda: not _ready(platform), 10, interval=0.3, message="/readyz to report the broker away")
    time.sleep(3)
    rabbitmqctl("start_app")
    wait_for(lambda: _ready(platform), 90, interval=0.5, message="ready again after the broker restart")
    assert set(platform.children("")) == processes, "a process was restarted over a broker restart"


def broker_connection_cut(platform: Platform) -> None:
    vhost = platform.amqp_uri.rsplit("/", 1)[1]
    rabbitmqctl("close_all_connections", "--vhost", vhost, "fault test")


def store_restart(platform: Platform) -> None:
    """Every store process (one per service) killed at once."""
    pids = wait_for(lambda: platform.children("nx-27017"), 30, message="the store processes")
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    for pid in pids:
        restarted(platform, "nx-27017", pid)


def mail_relay_down(platform: Platform) -> None:
    refuse = platform.var / "mail" / ".refuse"
    refuse.touch()  # refusing: 451 to every message
    time.sleep(8)
    refuse.unlink()
    sink = only_child(platform, "deploy.local.mailsink")
    os.kill(sink, signal.SIGSTOP)  # unreachable: connections hang until they time out
    time.sleep(8)
    os.kill(sink, signal.SIGCONT)


def rolling_restart(platform: Platform) -> None:
    for pattern in ("registration.service", "matching.service", "notification.service", "gunicorn"):
        pid = only_child(platform, pattern)
        os.kill(pid, signal.SIGTERM)
        restarted(platform, pattern, pid)


def kill_matching_and_notification_and_restart_broker(platform: Platform) -> None:
    kill_9("notification")(platform)
    kill_9("matching")(platform)
    broker_restart(platform)


SCENARIOS = {
    "kill -9 registration": kill_9("registration"),
    "kill -9 matching": kill_9("matching"),
    "kill -9 notification": kill_9("notification"),
    "kill -9 gateway worker": kill_9_gateway_worker,
    "broker restart": broker_restart,
    "broker connection cut": broker_connection_cut,
    "store restart": store_restart,
    "mail relay refusing, then unreachable": mail_relay_down,
    "rolling restart (SIGTERM)": rolling_restart,
    "kill -9 matching + notification, broker restart": kill_matching_and_notification_and_restart_broker,
}
SHORT = ("kill -9 matching", "kill -9 notification", "broker connection cut")
# with the fan-out workload too: the faults that hit matching's bulk writes and announcements,
# and notification's announcements and digests
FANOUT = ("kill -9 matching", "kill -9 notification", "broker restart")
FANOUT_SHORT = ("kill -9 matching",)
FANOUT_INVESTORS = 50
# each fan-out company is suggested to every investor sharing its tags, those the earlier
# scenarios registered included, and each of them gets digests: the backlog takes longer
FANOUT_SETTLE_SECONDS = 900.0
CASES = [(name, False) for name in SCENARIOS if FULL or name in SHORT] + [
    (name, True) for name in FANOUT if FULL or name in FANOUT_SHORT
]


@pytest.fixture(scope="module")
def fanout_investors(platform):
    """Investors sharing the popular tags, there before the fan-out workload's companies."""
    load = Load(platform, 25.0, mix=("investors",), body=fanout_body)
    with load:
        wait_for(lambda: len(load.sent) >= FANOUT_INVESTORS, 30, message="the fan-out investors sent")
    assert all(sent.status == 201 for sent in load.sent), [sent.status for sent in load.sent]
    return load.sent


@pytest.mark.parametrize(
    "scenario, fanout", CASES, ids=[f"{name} (fanout)" if fanout else name for name, fanout in CASES]
)
def test_nothing_acknowledged_is_lost_or_doubled(platform, scenario, fanout, request):
    if fanout:
        request.getfixturevalue("fanout_investors")
    load = Load(platform, RATE, mix=FANOUT_MIX, body=fanout_body) if fanout else Load(platform, RATE)
    with load:
        time.sleep(BEFORE)
        SCENARIOS[scenario](platform)
        time.sleep(AFTER)
    settle_seconds = settle(platform, FANOUT_SETTLE_SECONDS) if fanout else settle(platform)
    row = verify(
        platform,
        f"{scenario} (fan-out)" if fanout else scenario,
        load.sent,
        settle_seconds,
        since=load.started,
    )
    ROWS.append(row)
    print("\n" + table([row]))
    assert row.acknowledged > 0
    assert settle_seconds != float("inf"), "the platform did not settle"
    assert (row.lost, row.duplicated) == (0, 0), row.problems[:20]
