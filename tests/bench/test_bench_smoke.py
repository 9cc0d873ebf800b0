"""The benchmark suite's short form: it runs every part and reports; the figures are not judged
here (targets are for `make bench` on a quiet machine)."""

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_the_benchmark_suite_runs_and_reports(tmp_path):
    finished = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    for section in (
        "machine",
        "rpc",
        "ceiling",
        "end_to_end_idle",
        "rush",
        "matching",
        "scale_out",
        "fanout",
        "checkin",
        "capacity",
        "targets",
    ):
        assert section in results, section
    steps = results["rush"]["steps"]
    assert any(step["sustained"] for step in steps)
    assert all(step["sent"] > 0 and step["ok"] == step["sent"] for step in steps), steps
    assert results["end_to_end_idle"]["missing"] == 0
    assert results["ceiling"]["minimal_endpoint"]["ok"] > 0
    assert results["ceiling"]["raw_insert"]["inserts"] > 0
    assert (
        results["scale_out"]["one_instance_seconds"] > 0 and results["scale_out"]["two_instances_seconds"] > 0
    )
    fan_out = results["fanout"]["target_run"]
    assert fan_out["gateway"]["statuses"] == {"201": fan_out["companies_offered"]}
    assert fan_out["suggestion_visible_ms"]["probes"] > 0 and fan_out["suggestion_visible_ms"]["missing"] == 0
    # e-mails are counted: a confirmation for each registration (the first digests are due a
    # window after the registrations, after the run)
    assert fan_out["emails"]["total"] >= sum(fan_out["emails"]["registrations"].values()) > 0
    assert all(
        row["matching"]["confirms_per_matching_event"] > 0 for row in results["fanout"]["cost_per_event"]
    )
    door = results["checkin"]
    assert door["page_first_scans"]["all_as_expected"] and door["page_repeat_scans"]["all_as_expected"]
    assert door["api_first_scans"]["all_as_expected"]
    assert (
        door["checked_in_at_the_end"] == door["page_first_scans"]["scans"] + door["api_first_scans"]["scans"]
    )
    burst = results["capacity"]["burst"]
    assert burst["admitted"] == burst["for_the_last_places"] and burst["places_taken"] == burst["capacity"]
    assert results["capacity"]["promotion"]["latency_ms"]["max"] is not None
    assert (tmp_path / "rush.png").read_bytes().startswith(b"\x89PNG")
    summary = (tmp_path / "summary.md").read_text()
    assert summary.count("\n| ") >= len(results["targets"]) + len(steps)
    assert "| target | goal | measured | met |" in finished.stdout
