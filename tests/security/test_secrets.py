"""Secrets reach only the processes that use them, in ``make run`` as in docker-compose: a process
that is broken into, or that writes its environment to a log, gives away no other's key."""

from pathlib import Path

from tests.platform import Platform

# process (as its command line names it) -> the secrets it must hold
HOLDERS = {
    "registration.service": {"SENSITIVE_DATA_KEY", "ORGANISER_TOKEN", "CALLER_SIGNING_KEY"},
    "matching.service": {"CALLER_SIGNING_KEY"},
    "notification.service": {"CALLER_SIGNING_KEY"},
    "gateway.app": {"GATEWAY_SECRET_KEY", "ORGANISER_TOKEN", "CALLER_SIGNING_KEY"},
    "nx-27017": set(),
    "deploy.local.mailsink": set(),
}
SECRETS = {"SENSITIVE_DATA_KEY", "GATEWAY_SECRET_KEY", "ORGANISER_TOKEN", "CALLER_SIGNING_KEY"}


def environment_of(pid: int) -> set[str]:
    entries = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return {entry.split(b"=", 1)[0].decode() for entry in entries if b"=" in entry}


def test_a_secret_reaches_only_the_processes_that_use_it(platform: Platform):
    for pattern, expected in HOLDERS.items():
        pids = platform.children(pattern)
        assert pids, f"no {pattern} process"
        for pid in pids:
            assert environment_of(pid) & SECRETS == expected, pattern
