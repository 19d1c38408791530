"""After each run of a job: its Prometheus text file, from the run record the store now holds."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ssc_cli.errors import ConfigError, SscError
from ssc_cli.graph.interface import GraphStore
from ssc_cli.models import Ecosystem
from ssc_cli.quality import freshness, metrics
from ssc_cli.quality.checks import summary_rows
from ssc_cli.quality.results import CheckResult, RunRecord
from ssc_cli.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MetricsTarget:
    """Where the files go (SSC_METRICS_DIR) and the settings their thresholds come from."""

    directory: Path
    settings: Settings


def metrics_target(settings: Settings) -> MetricsTarget | None:
    return MetricsTarget(settings.metrics_dir, settings) if settings.metrics_dir else None


def unix(text: str | None) -> float | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def publish_run(
    store: GraphStore,
    target: MetricsTarget | None,
    job: str,
    ecosystem: Ecosystem | None,
    run_id: int | None,
) -> None:
    """Write the job's file from its run record; a file that cannot be written is logged, the
    run's own outcome stands."""
    if target is None or run_id is None:
        return
    try:
        runs = [RunRecord.from_row(r) for r in store.recent_runs([job], ecosystem, limit=50)]
    except SscError as exc:  # the graph went away with the run: say what is known
        log.debug("metrics without the run record: %s", exc)
        runs = []
    run = next((r for r in runs if r.id == run_id), None)
    success = next((r for r in runs if r.completed), None)
    limit = freshness.threshold(target.settings, job, ecosystem)
    now = datetime.now(UTC).timestamp()
    finished = unix(run.finished_at) if run else now
    started = unix(run.started_at) if run else None
    last_success = unix(success.finished_at) if success else None
    summary: dict[str, Any] = run.summary if run else {}
    checks: Sequence[Any] = summary.get("checks") or []
    row = metrics.RunMetrics(
        job=job,
        ecosystem=ecosystem.value if ecosystem else None,
        status=run.status if run else "aborted",
        finished=finished,
        duration=(finished - started) if finished is not None and started is not None else None,
        last_success=last_success,
        age=(now - last_success) if last_success is not None else None,
        threshold=limit.total_seconds() if limit else None,
        increments=metrics.counters_from_summary(job, summary),
        checks=[c for c in checks if isinstance(c, dict) and "check" in c],
    )
    write(target.directory, row)


def write(directory: Path, row: metrics.RunMetrics) -> None:
    try:
        metrics.write(directory, row)
    except ConfigError as exc:
        log.error("%s", exc)


def publish_checks(
    settings: Settings, ecosystem: Ecosystem | None, results: Sequence[CheckResult]
) -> None:
    """`ssc check [ECO]`'s file: ssc_check[_<eco>].prom, one 0/1 gauge per check."""
    target = metrics_target(settings)
    if target is None:
        return
    row = metrics.RunMetrics(
        job="check",
        ecosystem=ecosystem.value if ecosystem else None,
        finished=datetime.now(UTC).timestamp(),
        checks=summary_rows(results),
    )
    write(target.directory, row)


def publish_status(settings: Settings, rows: Sequence[freshness.StatusRow]) -> None:
    """`ssc status`'s file: ssc_status.prom, age, threshold and staleness of every dataset."""
    target = metrics_target(settings)
    if target is None:
        return
    datasets = [{**row.as_dict(), "last_success_unix": unix(row.last_success)} for row in rows]
    write(
        target.directory,
        metrics.RunMetrics(job="status", finished=datetime.now(UTC).timestamp(), datasets=datasets),
    )
