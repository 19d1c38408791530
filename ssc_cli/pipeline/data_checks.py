"""Checks of the data other jobs keep beside the graph: the SPDX list, licence verdicts and
vulnerability attribution (they read store methods of those layers, so they live here)."""

from __future__ import annotations

from collections.abc import Sequence

from ssc_cli.graph.interface import GraphStore
from ssc_cli.graph.licensing import UNCLASSIFIED
from ssc_cli.models import Ecosystem
from ssc_cli.quality.checks import CheckContext, CheckSpec
from ssc_cli.quality.gate import LICENSES_DATASET
from ssc_cli.quality.results import CheckResult, Severity
from ssc_cli.settings import Settings

SPDX_FLOOR = CheckSpec(
    "spdx_osi_floor",
    Severity.ERROR,
    blocking=True,
    cheap=True,
    measure=None,
    doc="OSI-approved licences in the stored SPDX list >= SSC_CHECK_MIN_OSI_LICENSES",
)
UNKNOWN_SHARE = CheckSpec(
    "unknown_share",
    Severity.WARN,
    blocking=False,
    cheap=True,
    measure=None,
    doc="share of classified packages with the verdict unknown <= SSC_CHECK_MAX_UNKNOWN_SHARE",
)
UNATTRIBUTED = CheckSpec(
    "unattributed_versions",
    Severity.WARN,
    blocking=False,
    cheap=True,
    measure=None,
    doc="versions never attributed after a vulnerability sync <= SSC_CHECK_MAX_UNATTRIBUTED",
)
DATA_CHECKS = (SPDX_FLOOR, UNKNOWN_SHARE, UNATTRIBUTED)
UNKNOWN = "unknown"  # the classifier's verdict (licenses/classify.py, not imported: it is heavy)


def data_checks(
    ctx: CheckContext,
    store: GraphStore,
    settings: Settings,
    ecosystems: Sequence[Ecosystem],
    *,
    licenses: bool = True,
) -> list[CheckResult]:
    """The checks that apply: each only once its data exists (a list synced, packages
    classified, a vulnerability sync run); before that `ssc status` says `never`."""
    results: list[CheckResult] = []
    info = store.license_list_info() if licenses else None
    if info is not None:
        floor = settings.check_min_osi_licenses
        passed = info.osi_approved >= floor
        results.append(
            ctx.result(
                SPDX_FLOOR,
                LICENSES_DATASET,
                passed,
                info.osi_approved,
                floor,
                f"SPDX list {info.version} has {info.osi_approved} OSI-approved licences "
                f"(floor {floor})"
                + ("" if passed else "; check SSC_SPDX_URL, then run `ssc licenses sync`"),
            )
        )
    verdicts = store.oss_status_counts()
    for eco in ecosystems:
        counts = verdicts.get(eco.value, {})
        classified = sum(n for status, n in counts.items() if status != UNCLASSIFIED)
        if not classified:
            continue
        unknown = counts.get(UNKNOWN, 0)
        share = unknown / classified
        limit = settings.check_max_unknown_share
        results.append(
            ctx.result(
                UNKNOWN_SHARE,
                eco.value,
                share <= limit,
                round(share, 4),
                limit,
                f"{unknown} of {classified} classified {eco.value} packages are unknown "
                f"({share:.1%}, limit {limit:.0%})"
                + ("" if share <= limit else "; look at their licence signals (`ssc graph show`)"),
            )
        )
    if store.recent_runs(["vulns-sync"], None, limit=1):
        for eco in ecosystems:
            missing = store.unattributed_versions(eco)
            limit = settings.check_max_unattributed
            results.append(
                ctx.result(
                    UNATTRIBUTED,
                    eco.value,
                    missing <= limit,
                    missing,
                    limit,
                    f"{missing} stored {eco.value} versions never attributed"
                    + ("" if missing <= limit else "; run `ssc vulns attribute`"),
                )
            )
    return results
