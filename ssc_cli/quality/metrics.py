"""Prometheus text files, one per job, for node-exporter's textfile collector.

Every run of a job rewrites its own file (`ssc_<job>[_<ecosystem>].prom` in SSC_METRICS_DIR), so
two jobs never write the same file. The file is written to a temporary name in the same
directory, fsynced and renamed over the old one: a run that dies mid-write leaves the previous
file whole. Counters (`_total`) carry on from the previous file, so they only grow (a deleted
file is a counter reset, which Prometheus handles); runs of the same job on one host (drain-queue
workers) take a lock around read-add-write so none of their increments is lost.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssc_cli.errors import ConfigError

# (metric, help) of the counters a run adds to; the name gets `_total` from prometheus_client.
COUNTERS = {
    "ssc_packages_processed": "Packages fetched and written.",
    "ssc_packages_failed": "Packages that could not be processed (each recorded with its reason).",
    "ssc_versions_written": "New versions written.",
    "ssc_http_requests": "HTTP requests sent.",
    "ssc_http_retries": "HTTP requests retried.",
    "ssc_http_not_modified": "HTTP 304 answers (cache revalidated).",
    "ssc_http_received_bytes": "HTTP body bytes received.",
    "ssc_queue_messages_processed": "Queue entries processed.",
    "ssc_queue_messages_dead_lettered": "Queue entries moved to the dead-letter stream.",
    "ssc_schema_drift": "Registry payloads with a field of the wrong type or shape.",
}
# Summary fields per job that feed each counter (the summaries of docs/cli.md).
_FROM_SUMMARY = {
    "ssc_packages_processed": (
        "new_packages_ingested",
        "packages_processed",
        "packages_rebuilt",
        "extracted",
    ),
    "ssc_packages_failed": ("errors", "failed"),
    "ssc_versions_written": ("new_versions", "total_versions"),
    "ssc_queue_messages_processed": ("total_processed",),
    "ssc_queue_messages_dead_lettered": ("dead_lettered",),
}
_FROM_HTTP = {
    "ssc_http_requests": "requests",
    "ssc_http_retries": "retries",
    "ssc_http_not_modified": "not_modified",
    "ssc_http_received_bytes": "bytes",
}


def counters_from_summary(job: str, summary: Mapping[str, Any]) -> dict[str, float]:
    """This run's increments, read from its summary."""
    out: dict[str, float] = {}
    for metric, keys in _FROM_SUMMARY.items():
        # drain-queue's `failed` counts deliveries; `errors` packages elsewhere.
        for key in keys:
            value = summary.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[metric] = float(value)
                break
    http = summary.get("http")
    if isinstance(http, Mapping):
        for metric, key in _FROM_HTTP.items():
            value = http.get(key)
            if isinstance(value, int | float):
                out[metric] = float(value)
    drift = summary.get("schema_drift")
    if isinstance(drift, Mapping):
        out["ssc_schema_drift"] = float(sum(v for v in drift.values() if isinstance(v, int)))
    elif isinstance(drift, int):
        out["ssc_schema_drift"] = float(drift)
    return out


@dataclass
class RunMetrics:
    """What one job's file says after a run (or a check, or a status)."""

    job: str
    ecosystem: str | None = None
    status: str | None = None  # ok / failed / aborted; None for check and status
    finished: float | None = None  # unix time
    duration: float | None = None
    last_success: float | None = None
    age: float | None = None
    threshold: float | None = None
    increments: dict[str, float] = field(default_factory=dict)
    checks: Sequence[Mapping[str, Any]] = ()  # check, severity, blocking, passed
    datasets: Sequence[Mapping[str, Any]] = ()  # status rows

    @property
    def filename(self) -> str:
        name = "ssc_" + self.job.replace("-", "_")
        return f"{name}_{self.ecosystem}.prom" if self.ecosystem else f"{name}.prom"


def _previous_counters(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Counter samples of the previous file (none when absent or unreadable)."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = path.read_text(encoding="utf-8")
        families = list(text_string_to_metric_families(text))
    except (OSError, ValueError):
        return {}
    found = {}
    for family in families:
        if family.type != "counter":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                found[(sample.name, tuple(sorted(sample.labels.items())))] = float(sample.value)
    return found


def render(
    metrics: RunMetrics, previous: Mapping[tuple[str, tuple[tuple[str, str], ...]], float]
) -> bytes:
    """The file's text: gauges of this run, counters carried on from `previous`."""
    from prometheus_client import CollectorRegistry, Gauge, disable_created_metrics, generate_latest

    # No `_created` series: a file rewritten by every run has no use for them.
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry()
    # Not `job`: Prometheus gives that label to the scrape job (node) and renames ours.
    job_labels = {"command": metrics.job, "ecosystem": metrics.ecosystem or ""}
    names = ["command", "ecosystem"]

    def gauge(name: str, text: str, value: float | None, **extra: str) -> None:
        if value is None:
            return
        labels = {**job_labels, **extra}
        Gauge(name, text, list(labels), registry=registry).labels(**labels).set(value)

    gauge("ssc_run_last_timestamp_seconds", "When the job's last run finished.", metrics.finished)
    gauge("ssc_run_last_duration_seconds", "How long the job's last run took.", metrics.duration)
    gauge(
        "ssc_run_last_success_timestamp_seconds",
        "When the job last completed (status ok, or failed with every failure recorded).",
        metrics.last_success,
    )
    gauge(
        "ssc_dataset_age_seconds", "Age of the job's data when this file was written.", metrics.age
    )
    gauge(
        "ssc_dataset_freshness_threshold_seconds",
        "Age past which the job's data is stale (SSC_FRESHNESS_*).",
        metrics.threshold,
    )
    if metrics.status is not None:
        status = Gauge(
            "ssc_run_last_status",
            "1 for the status of the job's last run (ok, failed, aborted).",
            [*names, "status"],
            registry=registry,
        )
        for value in ("ok", "failed", "aborted"):
            status.labels(**job_labels, status=value).set(int(value == metrics.status))
    if metrics.status is not None:  # a run: its counters (check and status files have none)
        _counters(registry, job_labels, metrics, previous)
    _check_gauges(registry, job_labels, metrics.checks)
    _status_gauges(registry, metrics.datasets)
    data: bytes = generate_latest(registry)
    return data


def _counters(
    registry: Any,
    job_labels: Mapping[str, str],
    metrics: RunMetrics,
    previous: Mapping[tuple[str, tuple[tuple[str, str], ...]], float],
) -> None:
    from prometheus_client import Counter

    names = list(job_labels)
    for name, text in COUNTERS.items():
        counter = Counter(name, text, names, registry=registry)
        key = (f"{name}_total", tuple(sorted(job_labels.items())))
        total = previous.get(key, 0.0) + metrics.increments.get(name, 0.0)
        counter.labels(**job_labels).inc(total)
    runs = Counter(
        "ssc_runs", "Runs of the job by final status.", [*names, "status"], registry=registry
    )
    for value in ("ok", "failed", "aborted"):
        key = ("ssc_runs_total", tuple(sorted({**job_labels, "status": value}.items())))
        total = previous.get(key, 0.0) + (1.0 if metrics.status == value else 0.0)
        runs.labels(**job_labels, status=value).inc(total)


def _check_gauges(
    registry: Any, job_labels: Mapping[str, str], checks: Iterable[Mapping[str, Any]]
) -> None:
    from prometheus_client import Gauge

    rows = list(checks)
    if not rows:
        return
    # job/ecosystem name the file that says it: the same check in two files (an ingest's
    # checks, `ssc check`) is two series, never a duplicate the textfile collector rejects.
    passed = Gauge(
        "ssc_check_passed",
        "1 when the check passed when the job ran it, 0 when it failed.",
        [*job_labels, "check", "dataset", "severity", "blocking"],
        registry=registry,
    )
    for row in rows:
        dataset, _, _name = str(row["check"]).partition("/")
        passed.labels(
            **job_labels,
            check=str(row["check"]),
            dataset=dataset,
            severity=str(row["severity"]),
            blocking=str(bool(row["blocking"])).lower(),
        ).set(int(bool(row["passed"])))


def _status_gauges(registry: Any, rows: Iterable[Mapping[str, Any]]) -> None:
    """`ssc status`'s rows, labelled by the dataset they describe (job, ecosystem)."""
    from prometheus_client import Gauge

    datasets = list(rows)
    if not datasets:
        return
    names = ["command", "ecosystem"]
    success = Gauge(
        "ssc_status_last_success_timestamp_seconds",
        "When the dataset's job last completed.",
        names,
        registry=registry,
    )
    age = Gauge("ssc_status_age_seconds", "Age of the dataset's data.", names, registry=registry)
    limit = Gauge(
        "ssc_status_freshness_threshold_seconds",
        "Age past which the dataset is stale (SSC_FRESHNESS_*).",
        names,
        registry=registry,
    )
    stale = Gauge("ssc_status_stale", "1 when the dataset is stale.", names, registry=registry)
    lag = Gauge(
        "ssc_status_cursor_lag",
        "How far the update cursor trails the registry's head, in `unit` (status --lag).",
        [*names, "unit"],
        registry=registry,
    )
    for row in datasets:
        labels = {"command": str(row["job"]), "ecosystem": str(row.get("ecosystem") or "")}
        if row.get("last_success_unix") is not None:
            success.labels(**labels).set(float(row["last_success_unix"]))
        if row.get("age_seconds") is not None:
            age.labels(**labels).set(float(row["age_seconds"]))
        if row.get("threshold_seconds") is not None:
            limit.labels(**labels).set(float(row["threshold_seconds"]))
        stale.labels(**labels).set(int(row.get("state") == "stale"))
        cursor_lag = row.get("cursor_lag")
        if isinstance(cursor_lag, Mapping) and cursor_lag.get("value") is not None:
            lag.labels(**labels, unit=str(cursor_lag.get("unit"))).set(float(cursor_lag["value"]))


def write(directory: Path, metrics: RunMetrics) -> Path:
    """Write the job's file atomically (temporary file, fsync, rename); return its path."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / metrics.filename
        with (directory / f".{metrics.filename}.lock").open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            # Temporary files of writers that died: nobody else writes this file while we hold
            # the lock, so they can go.
            for stale in directory.glob(f".{metrics.filename}.*.tmp"):
                stale.unlink(missing_ok=True)
            body = render(metrics, _previous_counters(path))
            # Not *.prom, so the textfile collector never reads a half-written file.
            temporary = directory / f".{metrics.filename}.{os.getpid()}.tmp"
            try:
                with temporary.open("wb") as out:
                    out.write(body)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, path)
            finally:
                temporary.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot write metrics to {directory}: {exc}; check SSC_METRICS_DIR"
        ) from exc
    return path
