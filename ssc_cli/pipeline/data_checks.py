"""Checks of the data other jobs keep beside the graph: the SPDX list, licence verdicts and
vulnerability attribution (they read store methods of those layers, so they live here)."""

from __future__ import annotations

from collections.abc import Sequence

from ssc_cli.errors import SscError
from ssc_cli.graph.interface import GraphStore
from ssc_cli.graph.licensing import UNCLASSIFIED
from ssc_cli.models import Ecosystem
from ssc_cli.quality.checks import CheckContext, CheckSpec
from ssc_cli.quality.freshness import VULNS_DATASET
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
VULN_AGE = CheckSpec(
    "newest_modified",
    Severity.WARN,
    blocking=False,
    cheap=False,
    measure=None,
    doc="age of the newest advisory `modified` <= SSC_CHECK_MAX_VULN_AGE",
)
DATA_CHECKS = (SPDX_FLOOR, UNKNOWN_SHARE, UNATTRIBUTED, VULN_AGE)
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
    if licenses:  # `ssc check` without an ecosystem: the data shared by all of them
        results.extend(_vuln_age(ctx, settings))
    return results


def _vuln_age(ctx: CheckContext, settings: Settings) -> list[CheckResult]:
    """The vulnerability source's newest `modified`; nothing before a source exists."""
    from ssc_cli.vulns.sources import describe, open_source  # only when asked

    if settings.vuln_db_uri is None and not settings.osv_path.is_file():
        return []
    limit = settings.check_max_vuln_age.total_seconds()
    try:
        source = open_source(settings)
        try:
            report = describe(source.info(), ctx.now)
        finally:
            source.close()
    except SscError as exc:  # the check fails and says why; the others still run
        message = f"{exc}; the vulnerability source could not be read"
        return [ctx.result(VULN_AGE, VULNS_DATASET, False, None, limit, message)]
    age = report["newest_age_seconds"]
    if age is None:
        message = "no advisories stored; run `ssc vulns sync` (or check SSC_VULN_DB_URI)"
        return [ctx.result(VULN_AGE, VULNS_DATASET, False, None, limit, message)]
    passed = age <= limit
    message = f"newest advisory modified {age} s ago (limit {int(limit)} s)" + (
        "" if passed else "; run `ssc vulns sync` and look at its log"
    )
    return [ctx.result(VULN_AGE, VULNS_DATASET, passed, age, limit, message)]
