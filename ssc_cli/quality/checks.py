"""The checks on the package graph: each a small function over the store, one query each.

A check names its dataset (an ecosystem's package graph is the dataset `nuget`, `pypi`, ...),
its severity, whether it is blocking (a failing blocking check stops the commands that read the
dataset: the cascade stop of the seed pipeline, part 3), the figure it measured, its threshold
and what to do. Thresholds are settings (Thresholds.from_settings); docs/operations.md lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ssc_cli.models import Ecosystem
from ssc_cli.quality.results import CheckResult, QualityStore, RunRecord, Severity
from ssc_cli.settings import Settings

# Jobs that write an ecosystem's package graph; their run summaries carry `graph_counts`.
WRITERS = ("ingest", "update", "rebuild", "drain-queue")
QUEUE_DATASET = "queue"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every threshold a check compares with (SSC_CHECK_* settings)."""

    min_packages: int = 1
    regression_share: float = 0.1
    backlog_runs: int = 3
    max_dead_letters: int = 0
    max_orphan_versions: int = 0
    max_dangling_edges: int = 0
    max_duplicate_purls: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Thresholds:
        return cls(
            min_packages=settings.check_min_packages,
            regression_share=settings.check_regression_share,
            backlog_runs=settings.check_backlog_runs,
            max_dead_letters=settings.check_max_dead_letters,
            max_orphan_versions=settings.check_max_orphan_versions,
            max_dangling_edges=settings.check_max_dangling_edges,
            max_duplicate_purls=settings.check_max_duplicate_purls,
        )


def after_run_thresholds(settings: Settings) -> Thresholds | None:
    """The thresholds of the checks after each run; None when SSC_CHECKS_AFTER_RUN is off."""
    return Thresholds.from_settings(settings) if settings.checks_after_run else None


def now_text(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


@dataclass
class CheckContext:
    """One round of checks: the store, the thresholds, the clock, and figures read once."""

    store: QualityStore
    thresholds: Thresholds = field(default_factory=Thresholds)
    now: datetime | None = None
    run_id: int | None = None  # the run whose end these checks follow (None: `ssc check`)
    # The counts the current run recorded (the hook passes them; `ssc check` reads them).
    current: dict[Ecosystem, dict[str, int]] = field(default_factory=dict)
    _runs: dict[Ecosystem, list[RunRecord]] = field(default_factory=dict)

    def counts(self, eco: Ecosystem) -> dict[str, int]:
        if eco not in self.current:
            self.current[eco] = self.store.graph_counts(eco)
        return self.current[eco]

    def writer_runs(self, eco: Ecosystem) -> list[RunRecord]:
        """Completed runs that wrote the ecosystem and recorded its counts, newest first."""
        if eco not in self._runs:
            limit = max(20, self.thresholds.backlog_runs + 2)
            rows = self.store.recent_runs(WRITERS, eco, limit=limit)
            self._runs[eco] = [
                run
                for run in map(RunRecord.from_row, rows)
                if run.completed and run.id != self.run_id and _recorded_counts(run, eco)
            ]
        return self._runs[eco]

    def result(
        self,
        spec: CheckSpec,
        dataset: str,
        passed: bool,
        measured: float | None,
        threshold: float | None,
        message: str,
    ) -> CheckResult:
        return CheckResult(
            name=spec.name,
            dataset=dataset,
            severity=spec.severity,
            blocking=spec.blocking,
            passed=passed,
            measured=measured,
            threshold=threshold,
            message=message,
            checked_at=now_text(self.now),
            run_id=self.run_id,
        )


def _recorded_counts(run: RunRecord, eco: Ecosystem) -> dict[str, int] | None:
    counts = run.summary.get("graph_counts")
    if isinstance(counts, dict) and isinstance(counts.get(eco.value), dict):
        return {str(k): int(v) for k, v in counts[eco.value].items() if isinstance(v, int)}
    return None


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A check: its name, severity, whether it gates, whether it is cheap enough to run after
    every write (count queries only), and the function measuring it."""

    name: str
    severity: Severity
    blocking: bool
    cheap: bool
    measure: Callable[[CheckContext, CheckSpec, Ecosystem], CheckResult] | None
    doc: str


# -- the checks -----------------------------------------------------------------------------


def _packages_nonempty(ctx: CheckContext, spec: CheckSpec, eco: Ecosystem) -> CheckResult:
    counts = ctx.counts(eco)
    found = counts["packages"]
    floor = ctx.thresholds.min_packages
    if found >= floor:
        return ctx.result(
            spec, eco.value, True, found, floor, f"{found} extracted {eco.value} packages"
        )
    if not any(counts.values()) and not ctx.store.recent_runs(("ingest",), eco, limit=1):
        # Never loaded: the shipped schedules run every update while the bulk loads stay
        # suspended, as the seed's did (issue 14). Such an update is no ingest that wrote
        # nothing, and must not block classify and attribution of the loaded ecosystems.
        return ctx.result(
            spec,
            eco.value,
            True,
            found,
            floor,
            f"no {eco.value} packages: not loaded yet (no `ssc ingest {eco.value}` has run)",
        )
    return ctx.result(
        spec,
        eco.value,
        False,
        found,
        floor,
        f"{found} extracted {eco.value} packages (needs >= {floor}): the last ingest wrote "
        f"nothing; check the registry and its URL settings (`ssc doctor --ecosystem "
        f"{eco.value}` checks each), run `ssc ingest {eco.value}` again, then "
        f"`ssc check {eco.value}`",
    )


def _regression(ctx: CheckContext, spec: CheckSpec, eco: Ecosystem) -> CheckResult:
    share = ctx.thresholds.regression_share
    runs = ctx.writer_runs(eco)
    if not runs:
        return ctx.result(spec, eco.value, True, 0.0, share, "no earlier run to compare with")
    before = _recorded_counts(runs[0], eco) or {}
    now = ctx.counts(eco)
    drops = []
    worst = 0.0
    for what in ("packages", "versions", "edges"):
        old, new = before.get(what, 0), now.get(what, 0)
        if old > 0 and new < old:
            drop = (old - new) / old
            worst = max(worst, drop)
            if drop > share:
                drops.append(f"{what} {old} -> {new} (-{drop:.0%})")
    since = f"run {runs[0].id} ({runs[0].job}, {runs[0].finished_at})"
    if not drops:
        return ctx.result(
            spec, eco.value, True, round(worst, 4), share, f"no drop over {share:.0%} since {since}"
        )
    return ctx.result(
        spec,
        eco.value,
        False,
        round(worst, 4),
        share,
        f"dropped since {since}: {', '.join(drops)}; look at the runs' failures "
        f"(`ssc status`, `ssc graph show`) and refetch with `ssc update {eco.value} --full`",
    )


def _pending_growth(ctx: CheckContext, spec: CheckSpec, eco: Ecosystem) -> CheckResult:
    needed = ctx.thresholds.backlog_runs
    series = [
        (_recorded_counts(run, eco) or {}).get("pending", 0)
        for run in reversed(ctx.writer_runs(eco)[: needed + 1])
    ]
    if ctx.run_id is not None:  # the run being checked is the newest point
        series.append(ctx.counts(eco)["pending"])
        series = series[-(needed + 1) :]
    rises = 0
    for older, newer in zip(reversed(series[:-1]), reversed(series[1:]), strict=True):
        if newer <= older:
            break
        rises += 1
    trend = " -> ".join(str(n) for n in series) or "no runs"
    if rises < needed:
        return ctx.result(spec, eco.value, True, rises, needed, f"pending over the runs: {trend}")
    return ctx.result(
        spec,
        eco.value,
        False,
        rises,
        needed,
        f"the pending backlog grew at each of the last {rises} runs ({trend}): runs stop "
        f"(--limit) before catching up; run `ssc ingest {eco.value}` without --limit, or more "
        "often, or more drain-queue workers",
    )


def _counted(
    name: str, read: Callable[[QualityStore, Ecosystem], int], limit: Callable[[Thresholds], int]
) -> Callable[[CheckContext, CheckSpec, Ecosystem], CheckResult]:
    advice = {
        "orphan_versions": "versions no package HAVEs: re-run `ssc update {eco} --full` (it "
        "rewrites each package's versions) or delete them",
        "dangling_edges": "REQUIRE edges whose version or target package is not stored: run "
        "`ssc update {eco} --full` to rewrite the edges",
        "duplicate_purls": "twins of one package or version: bring the graph to the contract "
        "with `ssc graph migrate` (merges twins)",
    }[name]

    def measure(ctx: CheckContext, spec: CheckSpec, eco: Ecosystem) -> CheckResult:
        found = read(ctx.store, eco)
        most = limit(ctx.thresholds)
        what = name.replace("_", " ")
        if found <= most:
            return ctx.result(spec, eco.value, True, found, most, f"{found} {what}")
        text = advice.format(eco=eco.value)
        return ctx.result(
            spec, eco.value, False, found, most, f"{found} {what} (max {most}): {text}"
        )

    return measure


GRAPH_CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec(
        "packages_nonempty",
        Severity.ERROR,
        blocking=True,
        cheap=True,
        measure=_packages_nonempty,
        doc="extracted packages >= SSC_CHECK_MIN_PACKAGES (an ingest that wrote nothing)",
    ),
    CheckSpec(
        "regression",
        Severity.WARN,
        blocking=False,
        cheap=True,
        measure=_regression,
        doc="extracted packages, versions or edges dropped by more than "
        "SSC_CHECK_REGRESSION_SHARE since the last completed run that wrote the ecosystem",
    ),
    CheckSpec(
        "pending_growth",
        Severity.WARN,
        blocking=False,
        cheap=True,
        measure=_pending_growth,
        doc="the pending backlog grew at each of the last SSC_CHECK_BACKLOG_RUNS runs",
    ),
    CheckSpec(
        "orphan_versions",
        Severity.ERROR,
        blocking=False,
        cheap=False,
        measure=_counted(
            "orphan_versions", lambda s, e: s.orphan_versions(e), lambda t: t.max_orphan_versions
        ),
        doc="versions no package HAVEs <= SSC_CHECK_MAX_ORPHAN_VERSIONS",
    ),
    CheckSpec(
        "dangling_edges",
        Severity.ERROR,
        blocking=False,
        cheap=False,
        measure=_counted(
            "dangling_edges", lambda s, e: s.dangling_edges(e), lambda t: t.max_dangling_edges
        ),
        doc="REQUIRE edges whose source version or target package is missing "
        "<= SSC_CHECK_MAX_DANGLING_EDGES",
    ),
    CheckSpec(
        "duplicate_purls",
        Severity.ERROR,
        blocking=False,
        cheap=False,
        measure=_counted(
            "duplicate_purls", lambda s, e: s.duplicate_purls(e), lambda t: t.max_duplicate_purls
        ),
        doc="purls held twice, or package names equal once normalised, "
        "<= SSC_CHECK_MAX_DUPLICATE_PURLS",
    ),
)

DEAD_LETTERS = CheckSpec(
    "dead_letters",
    Severity.WARN,
    blocking=False,
    cheap=True,
    measure=None,  # dead_letter_check: the caller reads the stream (only queue/ talks to Redis)
    doc="the dead-letter stream holds <= SSC_CHECK_MAX_DEAD_LETTERS entries (Redis configured only)",
)


def dead_letter_check(ctx: CheckContext, length: int) -> CheckResult:
    """The dead-letter stream's length, read by the caller (only it talks to Redis)."""
    most = ctx.thresholds.max_dead_letters
    if length <= most:
        return ctx.result(DEAD_LETTERS, QUEUE_DATASET, True, length, most, f"{length} dead letters")
    return ctx.result(
        DEAD_LETTERS,
        QUEUE_DATASET,
        False,
        length,
        most,
        f"{length} dead letters (max {most}): see why with `ssc queue stats` and the entries' "
        "`error` field, fix the cause, then `ssc queue retry-dead`",
    )


def graph_checks(
    ctx: CheckContext, ecosystems: Iterable[Ecosystem], *, cheap_only: bool = False
) -> list[CheckResult]:
    """Every graph check (or the cheap ones) of each ecosystem."""
    results = []
    for eco in ecosystems:
        for spec in GRAPH_CHECKS:
            if spec.measure is None or (cheap_only and not spec.cheap):
                continue
            results.append(spec.measure(ctx, spec, eco))
    return results


def checked_ecosystems(store: QualityStore) -> list[Ecosystem]:
    """Ecosystems a job has written (an ingest, update, rebuild or drain-queue run of them)."""
    found = set()
    for job, eco in store.run_datasets():
        if job in WRITERS and eco:
            try:
                found.add(Ecosystem(eco))
            except ValueError:
                continue
    return [eco for eco in Ecosystem if eco in found]


def record(store: QualityStore, results: Sequence[CheckResult]) -> None:
    if results:
        store.save_check_results([r.as_dict() for r in results])


def failing(results: Iterable[CheckResult], *, blocking_only: bool = False) -> list[CheckResult]:
    return [r for r in results if not r.passed and (r.blocking or not blocking_only)]


def summary_rows(results: Iterable[CheckResult]) -> list[dict[str, Any]]:
    """The checks as a run summary lists them."""
    return [
        {
            "check": r.key,
            "severity": r.severity.value,
            "blocking": r.blocking,
            "passed": r.passed,
            "measured": r.measured,
            "threshold": r.threshold,
            "message": r.message,
        }
        for r in results
    ]


def counts_for_summary(counts: Mapping[Ecosystem, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """`graph_counts` of a run summary: what the next run's regression check compares with."""
    return {eco.value: dict(values) for eco, values in counts.items()}
