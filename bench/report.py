"""The benchmark's outputs: the JSON of every figure, a PNG plot of the rush, and a summary table
of each target against what was measured."""

import argparse
import dataclasses
import json
import os
import platform
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def standalone(description: str, full: Any, smoke: Any, run: Callable[[Any], dict]) -> None:
    """The command line of one benchmark run on its own: ``run`` with the ``full`` plan, or the
    ``smoke`` one with ``--smoke``; its result printed as JSON, and written to ``--out FILE``."""
    parser = argparse.ArgumentParser(description=f"{description} (prints its result as JSON).")
    parser.add_argument("--smoke", action="store_true", help="every part, briefly")
    parser.add_argument("--out", type=Path, help="write the JSON result here too")
    arguments = parser.parse_args()
    plan = smoke if arguments.smoke else full
    text = json.dumps({"plan": dataclasses.asdict(plan), **run(plan)}, indent=2, ensure_ascii=False)
    if arguments.out:
        arguments.out.write_text(text)
    print(text)


def machine() -> dict:
    memory_kib = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "rabbitmq": _command(["rabbitmqctl", "-q", "version"]),
    }


def _command(arguments: list[str]) -> str | None:
    try:
        return subprocess.run(arguments, capture_output=True, text=True, timeout=60).stdout.strip() or None
    except OSError:
        return None


def targets(results: dict) -> list[dict]:
    """Each target of the rush issue with the figure measured for it."""
    rows = []

    def add(name: str, target: str, measured: object, met: bool | None) -> None:
        rows.append({"target": name, "goal": target, "measured": measured, "met": met})

    steps = results["rush"]["steps"]
    sustained = next(step for step in steps if step["sustained"])
    p99 = sustained["latency_ms"]["p99"]
    add(
        f"rush: {sustained['offered_rate']:.0f}/s for {sustained['seconds']:.0f} s",
        "≥ 300/s sustained 60 s, p99 ≤ 250 ms, 0 errors",
        f"{sustained['achieved_rate']:.1f}/s, p99 {p99} ms, {sustained['errors']} errors",
        sustained["offered_rate"] >= 300
        and sustained["seconds"] >= 60
        and sustained["achieved_rate"] >= 0.99 * sustained["offered_rate"]
        and p99 is not None
        and p99 <= 250
        and sustained["errors"] == 0,
    )
    drain = sustained["drain_seconds"]
    add("rush: backlog drained after the rush", "≤ 30 s", f"{drain} s", drain is not None and drain <= 30)
    best = results["best_sustainable_rate"]
    ceiling = results["ceiling"]["minimal_endpoint"]["achieved_rate"]
    add(
        "registrations/s vs minimal endpoint",
        "≥ 0.5 × ceiling",
        f"{best:.1f} / {ceiling:.1f} = {best / ceiling:.2f}",
        best >= 0.5 * ceiling,
    )
    rush_e2e = sustained["end_to_end"]["latency_ms"]["p95"]
    add(
        "end to end under the rush, p95",
        "≤ 1000 ms",
        f"{rush_e2e} ms",
        rush_e2e is not None and rush_e2e <= 1000,
    )
    idle = results["end_to_end_idle"]["latency_ms"]["p50"]
    add("end to end idle, p50", "≤ 100 ms", f"{idle} ms", idle is not None and idle <= 100)
    rpc = results["rpc"]["identify (no store access)"]["latency_ms"]["p50"]
    add("RPC p50", "≤ 2 ms", f"{rpc} ms", rpc <= 2)
    one = results["matching"]["one_company"]
    add(
        f"matching: one company vs {one['investors']:,} investors",
        "≤ 20 ms",
        f"{one['median_ms']} ms (median)",
        one["median_ms"] <= 20,
    )
    rematch = results["matching"]["full_rematch"]
    add(
        f"matching: rematch {rematch['companies']:,} × {rematch['investors']:,}",
        "≤ 60 s",
        f"{rematch['seconds']} s",
        rematch["seconds"] <= 60,
    )
    _fanout_targets(results.get("fanout"), add)
    _pages_targets(results.get("pages"), add)
    _door_targets(results.get("checkin"), add)
    _capacity_targets(results.get("capacity"), add)
    scale = results.get("scale_out")
    if scale:
        add(
            f"scale-out: {scale['events']:,}-event backlog, 2 vs 1 matching",
            "≥ 1.6× faster",
            f"{scale['one_instance_seconds']} s vs {scale['two_instances_seconds']} s = {scale['speed_up']}×",
            scale["speed_up"] >= 1.6,
        )
    return rows


def _fanout_targets(fanout: dict | None, add: Callable) -> None:
    if not fanout:
        return
    run = fanout["target_run"]
    gateway = run["gateway"]
    p99 = gateway["latency_ms"]["p99"]
    add(
        f"fan-out: {run['investors']} investors, {run['companies_offered']} companies in"
        f" {run['seconds']:.0f} s: gateway",
        "p99 ≤ 250 ms, no 5xx",
        f"p99 {p99} ms, {gateway['server_errors']} 5xx, {gateway['unanswered']} unanswered",
        p99 is not None and p99 <= 250 and gateway["server_errors"] == 0 and gateway["unanswered"] == 0,
    )
    drained = run["drained_seconds_after_last_registration"]
    add(
        "fan-out: every queue drained after the last registration",
        "≤ 30 s",
        f"{drained} s" if drained is not None else f"not within 600 s; left: {run['messages_left']}",
        drained is not None and drained <= 30,
    )
    visible = run["suggestion_visible_ms"]
    add(
        "fan-out: company in a matching investor's list after its 201, p95",
        "≤ 2,000 ms",
        f"{visible['p95']} ms (p50 {visible['p50']} ms; {visible['probes']} probes,"
        f" {visible['missing']} missing, {visible['below_the_list']} rightly below the list's"
        " first 100)",
        visible["p95"] is not None and visible["p95"] <= 2000 and visible["missing"] == 0,
    )
    mail = run["emails"]
    add(
        "fan-out: suggestion e-mails per recipient",
        "≤ 1 per digest window",
        f"at most {mail['max_suggestion_emails_per_recipient']} per recipient in at most"
        f" {mail['windows_spanned_at_most']} windows; {mail['recipients_with_two_within_a_window']}"
        " recipients had two within a window",
        mail["recipients_with_two_within_a_window"] == 0
        and mail["max_suggestion_emails_per_recipient"] <= mail["windows_spanned_at_most"],
    )
    add(
        "fan-out: total e-mails",
        "≤ registrations + investors × windows",
        f"{mail['total']} ≤ {mail['bound_registrations_plus_investors_x_windows']}"
        f" (companies' digests in the bound too: ≤ {mail['bound_counting_companies_digests_too']})",
        mail["total"] <= mail["bound_registrations_plus_investors_x_windows"],
    )
    costs = [row for row in fanout["cost_per_event"] if row["matching"]]
    if costs:
        trips = [row["matching"]["store_round_trips_per_matching_event"] for row in costs]
        confirms = [row["matching"]["confirms_per_matching_event"] for row in costs]
        add(
            "fan-out: matching's store round trips and confirms per event at "
            + ", ".join(str(row["investors"]) for row in costs)
            + " investors",
            "roughly constant",
            f"round trips {trips}; confirms {confirms}",
            max(trips) <= 1.5 * max(min(trips), 1) and max(confirms) <= 1.5 * max(min(confirms), 1),
        )
    elif fanout["cost_per_event"]:
        add("fan-out: matching's store round trips per event", "roughly constant", "no io_counts", None)


def _pages_targets(pages: dict | None, add: Callable) -> None:
    if not pages:
        return
    for name, page in pages["pages"].items():
        latency = page["latency_ms"]
        failed = sum(page["failures"].values())
        add(
            f"pages: {name}, {page['users']} users at once, each ~{page['think_seconds']} s on a page"
            f" ({pages['filled']['registrations']:,} registrations)",
            "p99 ≤ 300 ms, no 5xx",
            f"p50 {latency['p50']} ms, p99 {latency['p99']} ms, {page['per_second']}/s, {failed} failed"
            f" (each person's first load: p50 {page['first_loads_ms']['p50']} ms,"
            f" p99 {page['first_loads_ms']['p99']} ms)",
            latency["p99"] is not None and latency["p99"] <= 300 and failed == 0,
        )


def _door_targets(door: dict | None, add: Callable) -> None:
    if not door:
        return
    for name in ("page_first_scans", "page_repeat_scans", "api_first_scans"):
        scans = door[name]
        latency = scans["latency_ms"]
        add(
            f"check-in: {name.replace('_', ' ')}, {scans['doors']} doors at once"
            f" ({door['filled']['registrations']:,} registrations)",
            "p99 ≤ 150 ms, every answer as expected",
            f"p50 {latency['p50']} ms, p99 {latency['p99']} ms, {scans['per_second']}/s, {scans['outcomes']}",
            latency["p99"] is not None and latency["p99"] <= 150 and scans["all_as_expected"],
        )


def _capacity_targets(places: dict | None, add: Callable) -> None:
    if not places:
        return
    burst = places["burst"]
    add(
        f"capacity: {burst['registrations']} at once for the last {burst['for_the_last_places']} places",
        "never more than the capacity",
        f"{burst['admitted']} admitted, {burst['waiting']} waiting, {burst['places_taken']} of "
        f"{burst['capacity']} places taken, in {burst['seconds']} s",
        burst["admitted"] == burst["for_the_last_places"] and burst["places_taken"] <= burst["capacity"],
    )
    latency = places["promotion"]["latency_ms"]
    add(
        f"capacity: promotion after {places['promotion']['cancellations']} cancellations",
        "the first in line has the place ≤ 2 s after the cancellation",
        f"p50 {latency['p50']} ms, max {latency['max']} ms",
        latency["max"] is not None and latency["max"] <= 2000,
    )


def _fanout_markdown(fanout: dict | None) -> list[str]:
    if not fanout:
        return []
    lines = [
        "",
        "Fan-out: cost per company event as the investors sharing its tags grow (idle timers taken out):",
    ]
    lines += [
        "",
        "| investors | matching events | matching round trips / event | matching confirms / event"
        " | notification round trips / event |",
        "|---|---|---|---|---|",
    ]
    for row in fanout["cost_per_event"]:
        matching, notification = row["matching"] or {}, row["notification"] or {}
        lines.append(
            f"| {row['investors']} | {row['matching_events']}"
            f" | {matching.get('store_round_trips_per_matching_event', 'n/a')}"
            f" | {matching.get('confirms_per_matching_event', 'n/a')}"
            f" | {notification.get('store_round_trips_per_matching_event', 'n/a')} |"
        )
    run = fanout["target_run"]
    latency, visible, mail = run["gateway"]["latency_ms"], run["suggestion_visible_ms"], run["emails"]
    per_event = run.get("matching_per_matching_event") or {}
    lines += [
        "",
        f"Fan-out target run: {run['investors']} investors, {run['companies_offered']} companies in"
        f" {run['seconds']:.0f} s:",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    lines += [
        f"| gateway p50 / p95 / p99 | {latency['p50']} / {latency['p95']} / {latency['p99']} ms |",
        f"| 5xx; unanswered | {run['gateway']['server_errors']}; {run['gateway']['unanswered']} |",
        f"| drained after the last registration | {run['drained_seconds_after_last_registration']} s |",
        f"| matching events /s; pairs stored /s | {run['matching_events_per_second']};"
        f" {run['pairs_stored_per_second']} ({run['pairs_stored']} pairs) |",
        f"| matching round trips; confirms per event (the whole run)"
        f" | {per_event.get('store_round_trips', 'n/a')};"
        f" {per_event.get('confirms', 'n/a')} |",
        f"| in the investor's list after the 201, p50 / p95 | {visible['p50']} / {visible['p95']} ms"
        f" ({visible['probes']} probes, {visible['missing']} missing,"
        f" {visible['below_the_list']} rightly below the list's first 100) |",
        f"| e-mails: total; suggestion e-mails; max suggestion e-mails per recipient | {mail['total']};"
        f" {mail['suggestion_emails']}; {mail['max_suggestion_emails_per_recipient']} |",
        f"| bound: registrations + investors × windows ({mail['windows_spanned_at_most']})"
        f" | {mail['bound_registrations_plus_investors_x_windows']} |",
    ]
    return lines


def markdown(results: dict) -> str:
    lines = ["| target | goal | measured | met |", "|---|---|---|---|"]
    for row in results["targets"]:
        met = {True: "yes", False: "**no**", None: "n/a"}[row["met"]]
        lines.append(f"| {row['target']} | {row['goal']} | {row['measured']} | {met} |")
    lines += ["", "| offered /s | achieved /s | p50 ms | p95 ms | p99 ms | errors | queue peak | drained s |"]
    lines.append("|---|---|---|---|---|---|---|---|")
    for step in results["rush"]["steps"]:
        latency = step["latency_ms"]
        peak = ", ".join(f"{k} {v}" for k, v in step["queue_peak"].items())
        lines.append(
            f"| {step['offered_rate']:.0f}{' (sustained)' if step['sustained'] else ''} "
            f"| {step['achieved_rate']:.1f} | {latency['p50']} | {latency['p95']} | {latency['p99']} "
            f"| {step['errors']} | {peak} | {step['drain_seconds']} |"
        )
    sustained = next(step for step in results["rush"]["steps"] if step["sustained"])
    cpu = sustained["cpu_ms_per_registration"]
    lines += ["", "CPU per registration during the sustained step and its drain (ms, all cores):", ""]
    lines += ["| " + " | ".join(cpu) + " | total |", "|" + "---|" * (len(cpu) + 1)]
    lines.append("| " + " | ".join(str(value) for value in cpu.values()) + f" | {sum(cpu.values()):.1f} |")
    scale = results.get("scale_out")
    if scale and "one_instance_cores_busy" in scale:
        lines += ["", "Scale-out: cores busy while the backlog drained (CPU seconds per second):", ""]
        lines += ["| matching instances | store | matching | broker |", "|---|---|---|---|"]
        for instances, key in (("one", "one_instance_cores_busy"), ("two", "two_instances_cores_busy")):
            cores = scale[key]
            lines.append(f"| {instances} | {cores['store']} | {cores['matching']} | {cores['broker']} |")
    lines += _fanout_markdown(results.get("fanout"))
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> None:
    steps = results["rush"]["steps"]
    rising = [step for step in steps if not step["sustained"]]
    sustained = next(step for step in steps if step["sustained"])
    figure, (rates, queues) = plt.subplots(1, 2, figsize=(13, 4.8))
    offered = [step["offered_rate"] for step in rising]
    for key in ("p50", "p95", "p99"):
        rates.plot(
            offered, [step["latency_ms"][key] or 0 for step in rising], marker="o", label=f"{key} latency"
        )
    rates.set_xlabel("offered registrations/s")
    rates.set_ylabel("latency, ms (log)")
    rates.set_yscale("log")
    achieved = rates.twinx()
    achieved.plot(offered, [step["achieved_rate"] for step in rising], "k--", marker="s", label="achieved/s")
    achieved.set_ylabel("achieved registrations/s")
    rates.legend(loc="upper left")
    achieved.legend(loc="lower right")
    rates.set_title("The rush: rising offered load")
    samples = sustained["queue_samples"]
    for service in [key for key in (samples[0] if samples else {}) if key != "t"]:
        queues.plot([s["t"] for s in samples], [s[service] for s in samples], label=f"{service}.events")
    queues.axvline(sustained["seconds"], color="grey", linestyle=":", label="rush ends")
    queues.set_xlabel("seconds since the sustained rush began")
    queues.set_ylabel("messages ready")
    queues.set_title(f"Queue depths, {sustained['offered_rate']:.0f}/s for {sustained['seconds']:.0f} s")
    queues.legend()
    figure.suptitle(f"{results['machine']['cores']} cores, {results['machine']['cpu']}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write(results: dict, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    (directory / "summary.md").write_text(markdown(results))
    plot(results, directory / "rush.png")
