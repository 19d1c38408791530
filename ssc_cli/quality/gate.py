"""The cascade stop: commands that read a dataset refuse while its latest blocking check fails."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ssc_cli.errors import QualityGateError
from ssc_cli.models import Ecosystem
from ssc_cli.quality.results import CheckResult, QualityStore

LICENSES_DATASET = "licenses"


def blocking_failures(store: QualityStore, datasets: Sequence[str]) -> list[CheckResult]:
    """The latest results of blocking checks of these datasets that failed."""
    results = [CheckResult.from_row(row) for row in store.check_results(list(datasets))]
    return [r for r in results if r.blocking and not r.passed]


def require_passing(store: QualityStore, datasets: Sequence[str], command: str) -> None:
    """Raise QualityGateError (exit 3) naming each failing blocking check and how to clear it.

    A dataset never checked does not block: there is no evidence against it. The checks that
    ingest, update, rebuild, drain-queue and `ssc check` record are what this reads.
    """
    failed = blocking_failures(store, datasets)
    if not failed:
        return
    lines = [
        f"  {r.key} failed at {r.checked_at}: {r.message}; "
        f"it clears once `{_check_command(r.dataset)}` passes"
        for r in failed
    ]
    raise QualityGateError(
        f"`ssc {command}` refused: the blocking quality gate on its input is failing\n"
        + "\n".join(lines)
    )


def _check_command(dataset: str) -> str:
    # The licence list is checked by `ssc check` without an ecosystem.
    return "ssc check" if dataset == LICENSES_DATASET else f"ssc check {dataset}"


def classify_inputs(ecosystems: Iterable[Ecosystem]) -> list[str]:
    """What the classifier reads: each ecosystem's package graph and the SPDX licence list."""
    return [*(eco.value for eco in ecosystems), LICENSES_DATASET]


def attribution_inputs(ecosystems: Iterable[Ecosystem]) -> list[str]:
    """What `vulns attribute` reads: each ecosystem's package graph."""
    return [eco.value for eco in ecosystems]
