"""The checks as the jobs run them: cheap ones after each write, all of them for `ssc check`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ssc_cli.errors import QueueUnavailable
from ssc_cli.graph.interface import GraphStore
from ssc_cli.models import Ecosystem
from ssc_cli.pipeline.data_checks import data_checks
from ssc_cli.quality import checks
from ssc_cli.quality.checks import CheckContext, Thresholds
from ssc_cli.quality.results import CheckResult
from ssc_cli.settings import Settings

log = logging.getLogger(__name__)


def after_write(
    store: GraphStore,
    ecosystems: Sequence[Ecosystem],
    run_id: int | None,
    thresholds: Thresholds | None,
) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]]]:
    """The cascade hook: count what the run left and run the cheap checks of its ecosystems.

    Returns the run summary's `graph_counts` (what the next run compares with) and `checks`;
    the results are recorded, so a failing blocking one stops classify and vulns attribute.
    thresholds None (SSC_CHECKS_AFTER_RUN=off, dry runs) skips it all.
    """
    if thresholds is None or run_id is None or not ecosystems:
        return {}, []
    ctx = CheckContext(store, thresholds, run_id=run_id)
    counts = {eco: ctx.counts(eco) for eco in ecosystems}
    results = checks.graph_checks(ctx, ecosystems, cheap_only=True)
    checks.record(store, results)
    for result in checks.failing(results):
        log.warning("check %s failed: %s", result.key, result.message)
    return checks.counts_for_summary(counts), checks.summary_rows(results)


def run_all(
    store: GraphStore,
    settings: Settings,
    ecosystems: Sequence[Ecosystem] | None,
    *,
    now: datetime | None = None,
) -> list[CheckResult]:
    """`ssc check [ECO]`: every check of the ecosystems (default: every one a job wrote), plus
    the dead-letter stream when no ecosystem is named; results recorded."""
    ctx = CheckContext(store, Thresholds.from_settings(settings), now=now)
    chosen = list(ecosystems) if ecosystems else checks.checked_ecosystems(store)
    results = checks.graph_checks(ctx, chosen)
    results.extend(data_checks(ctx, store, settings, chosen, licenses=not ecosystems))
    if not ecosystems:
        dead = dead_letters(settings)
        if dead is not None:
            results.append(_dead_letter_result(ctx, dead))
    checks.record(store, results)
    return results


def dead_letters(settings: Settings) -> int | str | None:
    """The dead-letter stream's length; None without Redis; the error text when unreachable."""
    from ssc_cli.queue.connection import redis_url, stream_length  # redis only when asked

    if redis_url(settings) is None:
        return None
    try:
        return stream_length(settings, settings.dead_letter_stream)
    except QueueUnavailable as exc:  # the check fails and says why; the other checks still run
        return str(exc)


def _dead_letter_result(ctx: CheckContext, dead: int | str) -> CheckResult:
    if isinstance(dead, int):
        return checks.dead_letter_check(ctx, dead)
    return ctx.result(
        checks.DEAD_LETTERS,
        checks.QUEUE_DATASET,
        False,
        None,
        ctx.thresholds.max_dead_letters,
        f"{dead}; the dead-letter stream could not be read",
    )
