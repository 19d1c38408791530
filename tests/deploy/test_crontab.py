"""crontab.example: every line parses, names an ssc command that exists, agrees with the CronJobs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from croniter import croniter

from ssc_cli.settings import Settings
from tests.conftest import REPO
from tests.deploy.manifests import (
    CRONTAB,
    KUBERNETES,
    crontab_entries,
    crontab_variables,
    documents,
    pod_spec,
    render,
    ssc_command,
)
from tests.deploy.runbook import exit_codes

ENTRIES = crontab_entries()


def _k8s_commands() -> set[tuple[str, ...]]:
    return {
        ssc_command(c["args"])
        for obj in render(KUBERNETES / "production")
        if obj["kind"] in ("CronJob", "Deployment")
        for c in pod_spec(obj)["containers"]
    }


def _all_commands() -> list[tuple[str, ...]]:
    """Every command line the crontab and the manifests run, once each."""
    return sorted({ssc_command(e["args"]) for e in ENTRIES} | _k8s_commands())


def test_the_crontab_has_every_job() -> None:
    assert len(ENTRIES) >= 15
    assert {e["args"][0] for e in ENTRIES} >= {"update", "ingest", "drain-queue", "licenses"}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"line{e['line']}")
def test_each_line_parses_and_logs_to_its_own_files(entry: dict[str, object]) -> None:
    expr = str(entry["expr"])
    assert croniter.is_valid(expr), expr
    first = croniter(expr, 0).get_next(float)
    assert croniter(expr, first).get_next(float) > first
    args = list(entry["args"])  # type: ignore[call-overload]
    assert args[-1] == "--json"  # one JSON summary line per run in the .jsonl
    job = "-".join(a for a in args[:2] if not a.startswith("-"))
    assert entry["redirections"] == [">>", f"$LOG/{job}.jsonl", "2>>", f"$LOG/{job}.log"]


def test_weekly_ingests_are_commented_out_and_the_rest_enabled() -> None:
    for entry in ENTRIES:
        assert entry["enabled"] is (entry["args"][0] != "ingest"), entry["line"]  # type: ignore[index]


def test_settings_lines_are_real_settings() -> None:
    variables = crontab_variables()
    assert variables["SSC"].split()[1:] == ["--env-file", "/etc/ssc/ssc.env"]
    for name in variables:
        if name.startswith("SSC_"):
            assert name[4:].lower() in Settings.model_fields, name


@pytest.mark.parametrize("command", _all_commands(), ids=" ".join)
def test_each_command_exists(command: tuple[str, ...]) -> None:
    """`--help` parses the whole line first, so an unknown command or option fails here."""
    result = subprocess.run(
        [sys.executable, "-m", "ssc_cli", *command, "--json", "--help"],
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HOME": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_the_header_names_every_exit_code() -> None:
    """What a mailed cron line's exit code means, without opening the runbook."""
    header = " ".join(line.lstrip("# ") for line in CRONTAB.read_text().splitlines()[:14])
    for code in sorted({0} | exit_codes(), key=int):
        assert f" {code} " in f" {header} ", code
    assert " 130/143 " in header


def test_the_cronjobs_and_the_crontab_agree() -> None:
    """The same jobs at the same times; suspended CronJobs are the commented-out lines. The
    queue is a CronJob-free Deployment in Kubernetes and a 5-minute job in cron."""
    crontab = {ssc_command(e["args"]): (e["expr"], e["enabled"]) for e in ENTRIES}
    cronjobs = {}
    workers = set()
    for obj in render(KUBERNETES / "production"):
        (container,) = pod_spec(obj)["containers"] if "spec" in obj else [None]
        if obj["kind"] == "CronJob":
            cronjobs[ssc_command(container["args"])] = (
                obj["spec"]["schedule"],
                not obj["spec"]["suspend"],
            )
        elif obj["kind"] == "Deployment":
            workers.add(ssc_command(container["args"]))
    queue = {c: v for c, v in crontab.items() if c[0] == "drain-queue"}
    assert {c for c in crontab if c not in queue} == set(cronjobs)
    for command, schedule in cronjobs.items():
        assert crontab[command] == schedule, command
    assert workers == {("drain-queue",)}
    assert [v for v in queue.values()] == [("*/5 * * * *", True)]


def test_quality_checks_daily_and_strict_status_hourly() -> None:
    """The two alerting jobs run, in cron and as CronJobs (the agreement test above)."""
    day, hour = 86_400, 3_600
    by_command = {ssc_command(e["args"]): e for e in ENTRIES}
    for command, interval in ((("check",), day), (("status", "--strict"), hour)):
        entry = by_command[command]
        assert entry["enabled"] is True, command
        times = croniter(str(entry["expr"]), 0)
        assert -times.get_next(float) + times.get_next(float) == interval, command
    # The daily checks come after the day's last writer (classify), so they see its results.
    last = croniter(str(by_command[("classify",)]["expr"]), 0).get_next(float)
    assert croniter(str(by_command[("check",)]["expr"]), 0).get_next(float) > last


def test_metrics_are_written_where_cron_and_kubernetes_say() -> None:
    """One metrics dir, inside the data dir, in the crontab and the ConfigMap."""
    variables = crontab_variables()
    (config,) = documents(KUBERNETES / "base" / "config.yaml")
    assert variables["SSC_METRICS_DIR"] == variables["SSC_DATA_DIR"] + "/metrics"
    assert config["data"]["SSC_METRICS_DIR"] == "/var/lib/ssc/metrics"
