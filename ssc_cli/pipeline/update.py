"""update: refetch the stored packages the registry changed since the last update, then move the cursor."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ssc_cli.graph.interface import EcosystemView, GraphStore, now_iso
from ssc_cli.models import Ecosystem, KnownPackage
from ssc_cli.pipeline.extract import Extraction, Outcome, RecordHook, recorded_run, run_status
from ssc_cli.pipeline.observe import MetricsTarget
from ssc_cli.pipeline.scheduler import run_bounded
from ssc_cli.pipeline.stop import Stop, Stopped
from ssc_cli.progress import Advance
from ssc_cli.quality.checks import Thresholds
from ssc_cli.registries.interface import Registry
from ssc_cli.vulns.sources import inline_report

_KNOWN_CHUNK = 500


@dataclass
class UpdateOptions:
    limit: int | None = None
    dry_run: bool = False
    full: bool = False  # re-check every stored package, not only the changed ones
    concurrency: int = 8
    batch_size: int = 100
    checks: Thresholds | None = None  # the cheap checks after writing (None: none)
    metrics: MetricsTarget | None = None  # the job's Prometheus file (SSC_METRICS_DIR)
    attribute: RecordHook | None = None  # inline vulnerability attribution


@dataclass
class UpdateSummary:
    packages_changed: int = 0
    packages_processed: int = 0
    total_versions: int = 0  # new versions added
    removed_versions: int = 0
    missing: int = 0
    errors: int = 0
    # Per ecosystem: packages whose payload had a field of the wrong type or shape (each also
    # a failure with its reason); `ssc status` shows it, the metrics count it.
    schema_drift: dict[str, int] = field(default_factory=dict)
    success_rate: float = 100.0
    requests: int = 0
    http: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    cursor_saved: bool = False
    stopped: str | None = None  # "signal": ended early by SIGTERM/SIGINT (pipeline/stop.py)
    run_id: int | None = None
    classified: dict[str, Any] | None = None  # the end-of-run licence classification
    vulnerabilities: dict[str, Any] | None = None  # inline attribution's counters
    graph_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["failures"] = [{"package": n, "reason": r} for n, r in self.failures]
        return data


async def update(
    registry: Registry,
    store: GraphStore,
    options: UpdateOptions,
    *,
    http_counters: Callable[[], dict[str, int]] = dict,
    progress: Advance | None = None,
    stop: Stop | None = None,
) -> UpdateSummary:
    """Refetch what changed; the cursor moves only after every write of the run committed.

    A stop ends it early: what was fetched is written, the cursor stays, `stopped` is set.
    """
    eco = registry.ecosystem
    started = time.monotonic()
    summary = UpdateSummary()
    with recorded_run(
        store, "update", eco, dry_run=options.dry_run, metrics=options.metrics
    ) as summary.run_id:
        return await _update(
            registry, store, options, summary, started, http_counters, progress, stop
        )


async def _update(
    registry: Registry,
    store: GraphStore,
    options: UpdateOptions,
    summary: UpdateSummary,
    started: float,
    http_counters: Callable[[], dict[str, int]],
    progress: Advance | None,
    stop: Stop | None,
) -> UpdateSummary:
    eco = registry.ecosystem
    since = now_iso()  # packages written from now on are this run's (licence hook)
    feed = registry.changes(EcosystemView(store, eco))
    try:
        # Reading the feed writes nothing to the graph: a stop abandons it after the grace.
        changes = await (stop.bounded(feed) if stop is not None else feed)
    except Stopped:
        assert stop is not None
        summary.stopped = stop.reason
        _close(store, eco, options, summary, started, http_counters)
        return summary
    if options.full:
        targets = [name for name, _ in store.tokens(eco)]
    else:
        # Packages that failed last time are retried even though the feed moved past them.
        targets = list(dict.fromkeys([*changes.names, *store.retry_names(eco)]))
    summary.packages_changed = len(targets)
    if options.limit is not None:
        targets = targets[: options.limit]
    truncated = len(targets) < summary.packages_changed
    extraction = Extraction(
        registry, store, dry_run=options.dry_run, batch_size=options.batch_size, progress=progress
    )
    extraction.attribute = options.attribute
    summary.failures = extraction.failures  # one list: filled as outcomes settle

    # What the graph holds of the next targets, read one chunk at a time (one query, not one per
    # package); entries leave when their fetch starts, so memory stays at about one chunk.
    known: dict[str, KnownPackage] = {}
    position = 0

    async def next_name() -> str | None:
        nonlocal position
        if position >= len(targets):
            return None
        if position % _KNOWN_CHUNK == 0:
            known.update(store.known(eco, targets[position : position + _KNOWN_CHUNK]))
        position += 1
        return targets[position - 1]

    async def work(name: str) -> Outcome:
        return await extraction.fetch(name, known.pop(name, None))

    def on_done(outcome: Outcome) -> None:
        if outcome.record is not None:
            summary.packages_processed += 1
        extraction.settle(outcome)

    completed = False
    try:
        completed = await run_bounded(next_name, work, on_done, max(1, options.concurrency), stop)
    finally:
        extraction.flush()
        summary.missing = extraction.missing_count
        summary.schema_drift = {eco.value: extraction.schema_drift}
        if not options.dry_run and summary.run_id is not None:
            store.record_failures(summary.run_id, eco, summary.failures)
    if not completed and stop is not None:
        summary.stopped = stop.reason
    # Failed packages carry last_error and are retried next time, so the cursor may move on;
    # a --limit or a stop cut short the change list, so it may not.
    elif not options.dry_run and changes.cursor is not None and not truncated:
        store.set_cursor(eco, "update", changes.cursor)
        summary.cursor_saved = True
    summary.total_versions = extraction.stats.new_versions
    summary.removed_versions = extraction.stats.removed_versions
    # Classification and the checks load once the run is over, not before its first request
    # (issue 8).
    from ssc_cli.pipeline.classify import after_write

    summary.classified = after_write(store, eco, dry_run=options.dry_run, since=since)
    summary.vulnerabilities = inline_report(options.attribute)
    _close(store, eco, options, summary, started, http_counters)
    return summary


def _close(
    store: GraphStore,
    eco: Ecosystem,
    options: UpdateOptions,
    summary: UpdateSummary,
    started: float,
    http_counters: Callable[[], dict[str, int]],
) -> None:
    """The summary's totals, and the run record closed with them."""
    from ssc_cli.pipeline import checks

    summary.errors = len(summary.failures)
    done = summary.packages_processed + summary.errors
    summary.success_rate = round(100.0 * summary.packages_processed / done, 2) if done else 100.0
    summary.http = http_counters()  # requests, retries, not_modified (304s), bytes
    summary.requests = summary.http.get("requests", 0)
    summary.elapsed = round(time.monotonic() - started, 3)
    summary.graph_counts, summary.checks = checks.after_write(
        store, [eco], summary.run_id, options.checks
    )
    if not options.dry_run and summary.run_id is not None:
        status = run_status(summary.stopped, summary.failures)
        store.finish_run(summary.run_id, status, summary.as_dict())
