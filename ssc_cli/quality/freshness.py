"""Freshness per dataset (one job, one ecosystem): last success, last failure, age, threshold.

A threshold is the job's expected cadence plus enough slack to absorb one missed run (the seed
pipeline's rule, part 3: NuGet 12 h for a 6-hourly job, SPDX 10 d for a weekly one), applied to
ssc's own schedules (crontab.example); each is a setting and 0 switches it off. A dataset older
than its threshold is stale: a WARN, stale data is still readable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ssc_cli.graph.interface import PENDING
from ssc_cli.models import Ecosystem
from ssc_cli.quality.checks import QUEUE_DATASET
from ssc_cli.quality.gate import LICENSES_DATASET
from ssc_cli.quality.results import CheckResult, QualityStore, RunRecord
from ssc_cli.settings import Settings

OK, STALE, NEVER = "ok", "stale", "never"
VULNS_DATASET = "vulns"
CLASSIFY_DATASET = "classify"
# Jobs listed even before they ever ran (each ecosystem's ingest and update come first).
GLOBAL_JOBS = ("drain-queue", "vulns-sync", "vulns-attribute", "licenses-sync", "classify")
_HISTORY = 50  # runs read per dataset to find its last success and last failure


def threshold(settings: Settings, job: str, ecosystem: Ecosystem | None) -> timedelta | None:
    """The freshness threshold of a dataset; None when it has none (manual jobs, or 0)."""
    value: timedelta | None
    if job == "update":
        specific = getattr(settings, f"freshness_update_{ecosystem.value}") if ecosystem else None
        value = specific if specific is not None else settings.freshness_update
    else:
        field_name = "freshness_" + job.replace("-", "_")
        value = getattr(settings, field_name, None)  # rebuild and unknown jobs: none
    if value is None or value <= timedelta(0):
        return None
    return value


def check_dataset(job: str, ecosystem: Ecosystem | None) -> str | None:
    """Which checks' dataset a job's dataset row shows the results of."""
    if job in ("ingest", "update", "rebuild"):
        return ecosystem.value if ecosystem else None
    return {
        "drain-queue": QUEUE_DATASET,
        "licenses-sync": LICENSES_DATASET,
        "vulns-sync": VULNS_DATASET,
        "vulns-attribute": VULNS_DATASET,
        "classify": CLASSIFY_DATASET,
    }.get(job)


@dataclass(frozen=True, slots=True)
class Dataset:
    job: str
    ecosystem: Ecosystem | None

    @property
    def name(self) -> str:
        return f"{self.job} {self.ecosystem.value}" if self.ecosystem else self.job


def datasets(
    ecosystems: Iterable[Ecosystem], stored: Iterable[tuple[str, str | None]]
) -> list[Dataset]:
    """The fixed rows (each ecosystem's ingest and update, the global jobs), then any other
    (job, ecosystem) that has runs (rebuild nuget, classify pypi, ...)."""
    rows = [Dataset(job, eco) for eco in ecosystems for job in ("ingest", "update")]
    rows += [Dataset(job, None) for job in GLOBAL_JOBS]
    seen = set(rows)
    for job, eco in stored:
        try:
            dataset = Dataset(job, Ecosystem(eco) if eco else None)
        except ValueError:
            continue
        if dataset not in seen:
            seen.add(dataset)
            rows.append(dataset)
    return rows


@dataclass
class StatusRow:
    """One dataset's freshness, as `ssc status` prints it."""

    dataset: str
    job: str
    ecosystem: str | None
    state: str
    last_success: str | None = None
    last_failure: str | None = None
    last_failure_reason: str | None = None
    last_run_status: str | None = None
    age_seconds: int | None = None
    threshold_seconds: int | None = None
    pending: int | None = None
    dead_letters: int | None = None
    schema_drift: int | None = None
    cursor_lag: dict[str, Any] | None = None
    checks: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def failure_reason(run: RunRecord) -> str:
    """Why a run did not end ok, from its summary."""
    summary = run.summary
    if run.status == "failed":
        failures = summary.get("failures") or []
        count = summary.get("errors", summary.get("failed", len(failures)))
        first = failures[0] if failures and isinstance(failures[0], dict) else None
        text = f"{count} packages failed"
        if first:
            text += f"; first: {first.get('package')}: {first.get('reason')}"
        return text
    error = summary.get("error")
    return str(error) if error else f"run {run.status}"


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def status_rows(
    store: QualityStore,
    settings: Settings,
    ecosystems: Sequence[Ecosystem],
    *,
    now: datetime | None = None,
    dead_letters: int | None = None,
    lags: Mapping[Ecosystem, dict[str, Any]] | None = None,
) -> list[StatusRow]:
    """One row per dataset; `now` is injectable so tests need no sleeping."""
    moment = now or datetime.now(UTC)
    results: dict[str, list[CheckResult]] = {}
    for row in store.check_results():
        result = CheckResult.from_row(row)
        results.setdefault(result.dataset, []).append(result)
    return [
        _row(store, settings, dataset, moment, results, dead_letters, lags or {})
        for dataset in datasets(ecosystems, store.run_datasets())
    ]


def _row(
    store: QualityStore,
    settings: Settings,
    dataset: Dataset,
    now: datetime,
    results: Mapping[str, list[CheckResult]],
    dead_letters: int | None,
    lags: Mapping[Ecosystem, dict[str, Any]],
) -> StatusRow:
    eco = dataset.ecosystem
    runs = [RunRecord.from_row(r) for r in store.recent_runs([dataset.job], eco, limit=_HISTORY)]
    success = next((r for r in runs if r.completed), None)
    failure = next((r for r in runs if r.status in ("failed", "aborted")), None)
    limit = threshold(settings, dataset.job, eco)
    row = StatusRow(
        dataset=dataset.name,
        job=dataset.job,
        ecosystem=eco.value if eco else None,
        state=NEVER,
        threshold_seconds=int(limit.total_seconds()) if limit else None,
        last_run_status=runs[0].status if runs else None,
    )
    finished = _parse(success.finished_at) if success else None
    if success is not None and finished is not None:
        row.last_success = success.finished_at
        row.age_seconds = max(0, int((now - finished).total_seconds()))
        row.state = STALE if limit is not None and now - finished > limit else OK
    if failure is not None:
        row.last_failure = failure.finished_at or failure.started_at
        row.last_failure_reason = failure_reason(failure)
    if runs and isinstance(runs[0].summary.get("schema_drift"), int | dict):
        drift = runs[0].summary["schema_drift"]
        if isinstance(drift, int):
            row.schema_drift = drift
        elif eco is not None:  # a per-ecosystem dataset: its own ecosystem's count
            row.schema_drift = int(drift.get(eco.value, 0))
        else:
            row.schema_drift = sum(int(v) for v in drift.values())
    if eco is not None and dataset.job in ("ingest", "update"):
        row.pending = store.count(eco, PENDING)
        if dataset.job == "update":
            row.cursor_lag = lags.get(eco)
    if dataset.job == "drain-queue":
        row.dead_letters = dead_letters
    checked = check_dataset(dataset.job, eco)
    row.checks = [
        {"check": r.key, "passed": r.passed, "severity": r.severity.value, "blocking": r.blocking}
        for r in results.get(checked or "", [])
    ]
    return row


def human(seconds: int | None) -> str:
    """3d4h, 12h, 25m, 40s."""
    if seconds is None:
        return "-"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"
