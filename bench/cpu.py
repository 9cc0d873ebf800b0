"""Where the CPU goes: the processor time each process of the platform (and the broker, and the
load generator itself) uses during a step, per registration acknowledged."""

import os
import subprocess
from pathlib import Path

from tests.platform import Platform

TICKS = os.sysconf("SC_CLK_TCK")


def platform_processes(platform: Platform) -> dict[str, list[int]]:
    """Every process by role: each service, the gateway's master and workers, the store, the
    mail sink, the broker, and this process (the load generator)."""
    roles = {
        "registration": platform.children("registration.service"),
        "matching": platform.children("matching.service"),
        "notification": platform.children("notification.service"),
        "store": platform.children("nx-27017"),
        "mail sink": platform.children("mailsink"),
        "broker": pgrep(["pgrep", "-x", "beam.smp"]),
        "load generator": [os.getpid()],
    }
    masters = platform.children("gunicorn")
    roles["gateway"] = masters + [pid for master in masters for pid in pgrep(["pgrep", "-P", str(master)])]
    return roles


def pgrep(command: list[str]) -> list[int]:
    return [int(pid) for pid in subprocess.run(command, capture_output=True, text=True).stdout.split()]


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # ended meanwhile
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def cpu_by_role(roles: dict[str, list[int]]) -> dict[str, float]:
    """The processor seconds each role's processes have used so far."""
    return {role: cpu_seconds(pids) for role, pids in roles.items()}


class CpuMeter:
    def __init__(self, platform: Platform) -> None:
        self.roles = platform_processes(platform)

    def __enter__(self) -> "CpuMeter":
        self._start = cpu_by_role(self.roles)
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = {role: used - self._start[role] for role, used in cpu_by_role(self.roles).items()}

    def per_registration_ms(self, registrations: int) -> dict[str, float]:
        ordered = sorted(self.used.items(), key=lambda item: -item[1])
        return {role: round(seconds * 1000 / max(registrations, 1), 2) for role, seconds in ordered}
