"""classify: verdicts for stored packages, in batches; and the end-of-run hook of every writing job.

Three ways in (issue 11, "no third schedule"):
- `classify_written` at the end of ingest, update, rebuild (packages written since the run
  began) and after each drain-queue batch (the names it wrote): only packages whose signals
  changed since their last classification are classified;
- `classify_stored` after a `licenses sync` that changed the list version (every package);
- `ssc classify [ECO] [--all] [--dry-run]` by hand (changed ones, or every one with --all).
Each writes a `classify` run record. Work goes page by page (`batch_size` packages read, decided
and written in one transaction), so a stop between pages loses nothing.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssc_cli.errors import QualityGateError, SscError
from ssc_cli.graph.interface import GraphStore
from ssc_cli.licenses.classify import STATUSES, Classifier
from ssc_cli.licenses.index import LicenseIndex
from ssc_cli.licenses.packages import PackageClassifier
from ssc_cli.models import Classification, Ecosystem, PackageLicenseInput
from ssc_cli.pipeline.extract import run_status
from ssc_cli.pipeline.stop import Stop
from ssc_cli.progress import Advance

log = logging.getLogger(__name__)

JOB = "classify"
NO_LIST = "no SPDX licence list in the graph; run `ssc licenses sync` first"


@dataclass
class ClassifySummary:
    ecosystems: list[str] = field(default_factory=list)
    packages_checked: int = 0  # read and compared with their last classification
    packages_classified: int = 0
    verdicts_changed: int = 0  # oss_status differs from the stored one (new ones included)
    versions_classified: int = 0  # versions given (or cleared of) their own verdict
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    reasons: dict[str, int] = field(default_factory=dict)
    license_list_version: str | None = None
    skipped: str | None = None  # why nothing was classified, when nothing could be
    dry_run: bool = False
    elapsed: float = 0.0
    stopped: str | None = None  # "signal": ended between pages by SIGTERM/SIGINT
    run_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["reasons"] = dict(sorted(self.reasons.items()))
        return data

    def count(
        self, results: Sequence[Classification], packages: Sequence[PackageLicenseInput]
    ) -> None:
        before = {p.purl: p.oss_status for p in packages}
        reasons = Counter(self.reasons)
        for result in results:
            self.packages_classified += 1
            self.by_status[result.verdict.status] += 1
            reasons[result.verdict.reason] += 1
            if before.get(result.purl) != result.verdict.status:
                self.verdicts_changed += 1
            self.versions_classified += len(result.versions)
        self.reasons = dict(reasons)


def load_classifier(store: GraphStore) -> Classifier | None:
    """A classifier over the stored list; None before the first `licenses sync`."""
    info = store.license_list_info()
    if info is None or info.licenses == 0:
        return None
    return Classifier(LicenseIndex(store.license_records(), info.version))


@dataclass
class _Batches:
    store: GraphStore
    classifier: Classifier
    summary: ClassifySummary
    every: bool = False
    dry_run: bool = False
    progress: Advance | None = None
    stop: Stop | None = None

    def run(self, eco: Ecosystem, pages: Iterable[list[PackageLicenseInput]]) -> None:
        deciding = PackageClassifier(self.classifier, eco)
        for page in pages:
            if self.stop is not None and self.stop.requested:
                self.summary.stopped = self.stop.reason
                return
            wanted = [p for p in page if self.every or deciding.needs_classifying(p)]
            results = [deciding.classify(p) for p in wanted]
            if results and not self.dry_run:
                self.store.write_classifications(eco, results, self.classifier.list_version)
            self.summary.packages_checked += len(page)
            self.summary.count(results, wanted)
            if self.progress is not None:
                self.progress(len(page))


def _pages(
    store: GraphStore, eco: Ecosystem, batch_size: int, since: str | None = None
) -> Iterable[list[PackageLicenseInput]]:
    after = ""
    while True:
        page = store.license_inputs(eco, after=after, limit=batch_size, since=since)
        if page:
            yield page
        if len(page) < batch_size:
            return
        after = page[-1].cursor


def _name_pages(
    store: GraphStore, eco: Ecosystem, names: Sequence[str], batch_size: int
) -> Iterable[list[PackageLicenseInput]]:
    for start in range(0, len(names), batch_size):
        yield store.license_inputs_of(eco, names[start : start + batch_size])


def classify_stored(
    store: GraphStore,
    ecosystems: Sequence[Ecosystem],
    *,
    every: bool = False,
    dry_run: bool = False,
    batch_size: int = 1000,
    progress: Advance | None = None,
    classifier: Classifier | None = None,
    stop: Stop | None = None,
) -> ClassifySummary:
    """`ssc classify`: the stored packages of these ecosystems (changed ones, or all with every).

    Raises QualityGateError (exit 3) when no SPDX list was synced: nothing to decide with.
    A stop ends it between pages (`stopped` set); the rest is classified by the next run.
    """
    started = time.monotonic()
    classifier = classifier or load_classifier(store)
    if classifier is None:
        raise QualityGateError(NO_LIST)
    summary = ClassifySummary(
        ecosystems=[e.value for e in ecosystems],
        license_list_version=classifier.list_version,
        dry_run=dry_run,
    )
    eco_of_run = ecosystems[0] if len(ecosystems) == 1 else None
    run_id = None if dry_run else store.start_run(JOB, eco_of_run)
    summary.run_id = run_id
    batches = _Batches(store, classifier, summary, every, dry_run, progress, stop)
    try:
        for eco in ecosystems:
            batches.run(eco, _pages(store, eco, batch_size))
            if summary.stopped is not None:
                break
    except BaseException as exc:
        _abort(store, run_id, exc)
        raise
    summary.elapsed = round(time.monotonic() - started, 3)
    if run_id is not None:
        store.finish_run(run_id, run_status(summary.stopped, []), summary.as_dict())
    return summary


def classify_written(
    store: GraphStore,
    ecosystem: Ecosystem,
    *,
    since: str | None = None,
    names: Sequence[str] | None = None,
    batch_size: int = 1000,
    record_run: bool = True,
) -> ClassifySummary:
    """The end-of-run hook: packages written since `since` (or these names) whose signals
    changed. Without a synced SPDX list it classifies nothing and says so."""
    started = time.monotonic()
    summary = ClassifySummary(ecosystems=[ecosystem.value])
    classifier = load_classifier(store)
    if classifier is None:
        summary.skipped = NO_LIST
        return summary
    summary.license_list_version = classifier.list_version
    run_id = store.start_run(JOB, ecosystem) if record_run else None
    summary.run_id = run_id
    pages = (
        _name_pages(store, ecosystem, sorted(set(names)), batch_size)
        if names is not None
        else _pages(store, ecosystem, batch_size, since=since)
    )
    try:
        _Batches(store, classifier, summary).run(ecosystem, pages)
    except BaseException as exc:
        _abort(store, run_id, exc)
        raise
    summary.elapsed = round(time.monotonic() - started, 3)
    if run_id is not None:
        store.finish_run(run_id, "ok", summary.as_dict())
    return summary


def hook_summary(summary: ClassifySummary) -> dict[str, Any]:
    """What a writing job reports of its classification (its `classified` summary field)."""
    data = {
        "packages": summary.packages_classified,
        "verdicts_changed": summary.verdicts_changed,
        "by_status": dict(summary.by_status),
        "reasons": dict(sorted(summary.reasons.items())),
    }
    if summary.skipped:
        data["skipped"] = summary.skipped
    return data


def _abort(store: GraphStore, run_id: int | None, exc: BaseException) -> None:
    if run_id is None:
        return
    try:
        store.finish_run(run_id, "aborted", {"error": str(exc) or type(exc).__name__})
    except SscError:
        log.debug("could not close classify run %s", run_id, exc_info=True)


def after_write(
    store: GraphStore,
    ecosystem: Ecosystem,
    *,
    dry_run: bool,
    since: str | None = None,
    names: Sequence[str] | None = None,
) -> dict[str, Any] | None:
    """The hook a writing job calls once its writes are committed: its `classified` summary
    field (None for a dry run, which wrote nothing to classify)."""
    if dry_run:
        return None
    return hook_summary(classify_written(store, ecosystem, since=since, names=names))


def merge_hook(total: dict[str, Any] | None, more: dict[str, Any] | None) -> dict[str, Any] | None:
    """Two `classified` fields added up (drain-queue classifies after every batch)."""
    if more is None:
        return total
    if total is None:
        return dict(more)
    out = dict(total)
    out["packages"] = total["packages"] + more["packages"]
    out["verdicts_changed"] = total["verdicts_changed"] + more["verdicts_changed"]
    for key in ("by_status", "reasons"):
        merged = Counter(total[key])
        merged.update(more[key])
        out[key] = dict(sorted(merged.items()))
    if "skipped" in more:
        out["skipped"] = more["skipped"]
    return out
