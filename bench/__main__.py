"""The benchmark suite: ``make bench`` runs it whole; ``--smoke`` runs every part briefly, to
show that it runs and reports (the targets mean nothing at that size).

The platform is started exactly as ``make run`` starts it (same runner, embedded store, mail
sink), on free ports and a RabbitMQ virtual host of its own. Results go to ``bench/results/``:
``results.json``, ``rush.png`` and ``summary.md``.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench import capacity, ceiling, checkin, fanout, pages, report, rpc, rush, scale_out
from tests.conftest import ROOT
from tests.platform import running_platform


@dataclass(frozen=True)
class Plan:
    rpc_calls: int
    ceiling_seconds: float
    ceiling_clients: int
    idle_probes: int
    rush_rates: tuple[float, ...]
    rush_step_seconds: float
    sustained: tuple[float, float]  # rate, seconds
    matching: tuple[str, ...]  # arguments of bench.matching_scale
    scale_out_events: int
    fanout: fanout.Plan
    pages: pages.Plan
    checkin: checkin.Plan
    capacity: capacity.Plan


FULL = Plan(
    rpc_calls=2000,
    ceiling_seconds=10,
    ceiling_clients=32,
    idle_probes=20,
    rush_rates=(25, 50, 75, 100, 150, 200, 300),
    rush_step_seconds=15,
    sustained=(300, 60),
    matching=(),
    scale_out_events=20_000,
    fanout=fanout.FULL,
    pages=pages.FULL,
    checkin=checkin.FULL,
    capacity=capacity.FULL,
)
SMOKE = Plan(
    rpc_calls=50,
    ceiling_seconds=1,
    ceiling_clients=4,
    idle_probes=2,
    rush_rates=(10,),
    rush_step_seconds=2,
    sustained=(10, 3),
    matching=("--investors", "300", "--companies", "100", "--rematch-investors", "100", "--repeats", "3"),
    scale_out_events=100,
    fanout=fanout.SMOKE,
    pages=pages.SMOKE,
    checkin=checkin.SMOKE,
    capacity=capacity.SMOKE,
)


def run(plan: Plan, out: Path) -> dict:
    results: dict = {
        "plan": {
            **plan.__dict__,
            "fanout": plan.fanout.__dict__,
            "pages": plan.pages.__dict__,
            "checkin": plan.checkin.__dict__,
            "capacity": plan.capacity.__dict__,
        },
        "machine": report.machine(),
        "started": time.strftime("%FT%TZ"),
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as var, running_platform(Path(var)) as platform:
        log_dir = Path(var)
        print("RPC latency ...", flush=True)
        results["rpc"] = rpc.rpc_latency(platform.amqp_uri, plan.rpc_calls)
        print("ceilings ...", flush=True)
        results["ceiling"] = {
            "raw_insert": ceiling.raw_insert_rate(platform.mongo_uri, plan.ceiling_seconds),
            "minimal_endpoint": ceiling.minimal_endpoint(
                platform.mongo_uri, plan.ceiling_seconds, plan.ceiling_clients, log_dir
            ),
        }
        print("end to end, idle ...", flush=True)
        results["end_to_end_idle"] = rush.idle_end_to_end(platform, plan.idle_probes)
        print("the rush ...", flush=True)
        results["rush"] = rush.rush(platform, list(plan.rush_rates), plan.rush_step_seconds, plan.sustained)
        results["matching_service_rss_mib"] = _rss_mib(platform.children("matching.service"))
    print("matching at scale ...", flush=True)
    results["matching"] = json.loads(
        subprocess.run(
            [sys.executable, "-m", "bench.matching_scale", *plan.matching],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    print("fan-out ...", flush=True)
    results["fanout"] = fanout.run(plan.fanout)
    print("pages ...", flush=True)
    results["pages"] = pages.run(plan.pages)
    print("check-in at the door ...", flush=True)
    results["checkin"] = checkin.run(plan.checkin)
    print("capacity and promotion ...", flush=True)
    results["capacity"] = capacity.run(plan.capacity)
    print("scale-out ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-scale-out-") as work:
        results["scale_out"] = scale_out.scale_out(plan.scale_out_events, Path(work))
    results["best_sustainable_rate"] = _best_sustainable_rate(results["rush"]["steps"])
    results["targets"] = report.targets(results)
    report.write(results, out)
    return results


def _best_sustainable_rate(steps: list[dict]) -> float:
    """The highest rate achieved in a step with no error and a p99 within 250 ms."""
    good = [
        step["achieved_rate"]
        for step in steps
        if step["errors"] == 0 and step["latency_ms"]["p99"] is not None and step["latency_ms"]["p99"] <= 250
    ]
    return max(good, default=0.0)


def _rss_mib(pids: list[int]) -> float:
    total_kib = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kib += int(line.split()[1])
    return round(total_kib / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the benchmark suite.")
    parser.add_argument("--smoke", action="store_true", help="every part, briefly")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    arguments = parser.parse_args()
    results = run(SMOKE if arguments.smoke else FULL, arguments.out)
    print()
    print(report.markdown(results))
    print(f"results: {arguments.out}/results.json, rush.png, summary.md")


if __name__ == "__main__":
    main()
