"""Scores: which CVSS version wins, both severity levels, alias groups, the means."""

from __future__ import annotations

from typing import Any

import pytest

from ssc_cli.vulns import severity
from ssc_cli.vulns.interface import Advisory, parse_advisory

V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
V30 = "CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:N"  # 5.9
V40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N"  # 5.1
V2 = "AV:N/AC:L/Au:N/C:P/I:P/A:P"  # 7.5


def adv(ident: str, *sev: tuple[str, str], aliases: list[str] | None = None, **kw: Any) -> Advisory:
    data: dict[str, Any] = {
        "id": ident,
        "modified": "2024-01-01T00:00:00Z",
        "aliases": aliases or [],
        "severity": [{"type": t, "score": s} for t, s in sev],
        **kw,
    }
    return parse_advisory(data)


def test_v3_wins_over_v4_and_v2_and_v4_over_v2() -> None:
    assert (
        severity.score(adv("A", ("CVSS_V2", V2), ("CVSS_V4", V40), ("CVSS_V3", V30))).value == 5.9
    )
    assert severity.score(adv("A", ("CVSS_V2", V2), ("CVSS_V4", V40))) == severity.Score(
        5.1, "CVSS_V4", V40
    )
    assert severity.score(adv("A", ("CVSS_V2", V2))).value == 7.5
    assert severity.score(adv("A", ("Ubuntu", "high"))).value is None


def test_affected_level_severity_is_read() -> None:
    record = adv(
        "A",
        affected=[
            {
                "package": {"ecosystem": "npm", "name": "x"},
                "severity": [{"type": "CVSS_V3", "score": V31}],
            }
        ],
    )
    assert severity.score(record).value == 9.8


def test_a_base_score_enrichment_is_used_and_a_rejected_vector_is_reported() -> None:
    record = parse_advisory({"id": "A", "modified": "2024-01-01T00:00:00Z",
                             "severity": [{"type": "CVSS_V3", "score": "garbage", "base_score": 4.2}]})  # fmt: skip
    assert severity.score(record).value == 4.2
    assert severity.rejected_vectors(record) == []
    bad = adv("B", ("CVSS_V3", "CVSS:3.1/AV:N/AC:Q"))
    assert severity.score(bad).value is None
    [problem] = severity.rejected_vectors(bad)
    assert "CVSS:3.1/AV:N/AC:Q" in problem and "rejected by cvss" in problem


def test_aliases_count_once_with_their_highest_score_and_all_ids_are_kept() -> None:
    ghsa = adv("GHSA-1", ("CVSS_V3", V30), aliases=["CVE-1"])
    pysec = adv("PYSEC-1", ("CVSS_V3", V31), aliases=["CVE-1"])  # same CVE: same vulnerability
    other = adv("GHSA-2", ("CVSS_V2", V2))
    out = severity.version_vulns([(a, severity.score(a)) for a in (ghsa, pysec, other)])
    assert out.vulnerabilities == ["CVE-1", "GHSA-1", "GHSA-2", "PYSEC-1"]
    assert (out.mean, out.weighted_mean, out.unscored) == (
        8.65,
        round((9.8**2 + 7.5**2) / 17.3, 2),
        0,
    )


def test_unscored_advisories_are_counted_and_never_divide_by_zero() -> None:
    a, b = adv("A"), adv("B", ("Ubuntu", "low"))
    assert severity.version_vulns(
        [(a, severity.score(a)), (b, severity.score(b))]
    ) == severity.VersionVulns(["A", "B"], 0.0, 0.0, 2)
    zero = adv("Z", ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N"))
    assert severity.score(zero).value == 0.0
    assert severity.version_vulns([(zero, severity.score(zero))]) == severity.VersionVulns(
        ["Z"], 0.0, 0.0, 0
    )
    assert severity.version_vulns([]) == severity.VersionVulns.none()


@pytest.mark.parametrize("scores", [[9.8], [5.9, 9.8, 7.5], [0.1, 10.0]])
def test_means_as_securechain_defines_them(scores: list[float]) -> None:
    mean, weighted = severity.means(scores)
    assert mean == round(sum(scores) / len(scores), 2)
    assert weighted == round(sum(x * x * 0.1 for x in scores) / sum(x * 0.1 for x in scores), 2)
