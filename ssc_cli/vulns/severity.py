"""CVSS base scores per advisory, alias groups, and a version's `mean` / `weighted_mean`.

Which score an advisory gets: a `base_score` number carried by the record (SecureChain's MongoDB
enrichment) else the base score the `cvss` package computes from the vector; CVSS 3.x first
(3.1 and 3.0, as vexgen reads CVSS_V3), then 4.0, then 2.0; the highest one within the version
that wins. Both levels are read: the top-level `severity` and that of the affected entries
naming the package. `Ubuntu` priority words and GHSA labels carry no number: unscored.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ssc_cli.vulns.interface import Advisory, Affected, Severity

# Order of preference of the severity types (securechain-compat.md §1.3: "CVSS v3 base scores").
_PREFERENCE = ("CVSS_V3", "CVSS_V4", "CVSS_V2")


class InvalidVector(ValueError):
    """A vector the `cvss` package rejects."""


@dataclass(frozen=True, slots=True)
class Score:
    """An advisory's score: value None when it has no usable one."""

    value: float | None
    kind: str | None = None  # CVSS_V3 / CVSS_V4 / CVSS_V2
    vector: str | None = None


UNSCORED = Score(None)


@functools.lru_cache(maxsize=65_536)
def vector_score(kind: str, vector: str) -> float:
    """The base score of one vector, as a float (the cvss package answers Decimal for 2 and 3)."""
    from cvss import CVSS2, CVSS3, CVSS4
    from cvss.exceptions import CVSSError

    classes = {"CVSS_V2": CVSS2, "CVSS_V3": CVSS3, "CVSS_V4": CVSS4}
    try:
        return float(classes[kind](vector.strip()).base_score)
    except KeyError:
        raise InvalidVector(f"severity type {kind!r} is not a CVSS type") from None
    except CVSSError as exc:
        raise InvalidVector(f"{kind} vector {vector!r} rejected by cvss: {exc}") from None


def severities(advisory: Advisory, entries: Iterable[Affected] | None = None) -> list[Severity]:
    """The top-level severity plus that of the given entries (all entries when None)."""
    chosen = advisory.affected if entries is None else entries
    return [*advisory.severity, *(s for entry in chosen for s in entry.severity)]


def score(advisory: Advisory, entries: Iterable[Affected] | None = None) -> Score:
    """The advisory's base score for the package these entries describe."""
    best: dict[str, Score] = {}
    for severity in severities(advisory, entries):
        if severity.type not in _PREFERENCE:
            continue
        value = severity.base_score
        if value is None:
            try:
                value = vector_score(severity.type, severity.score)
            except InvalidVector:
                continue
        current = best.get(severity.type)
        if current is None or (current.value is not None and value > current.value):
            best[severity.type] = Score(float(value), severity.type, severity.score or None)
    for kind in _PREFERENCE:
        if kind in best:
            return best[kind]
    return UNSCORED


def rejected_vectors(advisory: Advisory) -> list[str]:
    """Problems with the record's CVSS vectors (for the sync summary); a base_score excuses one."""
    problems = []
    for severity in severities(advisory):
        if severity.type in _PREFERENCE and severity.base_score is None:
            try:
                vector_score(severity.type, severity.score)
            except InvalidVector as exc:
                problems.append(str(exc))
    return problems


@dataclass(frozen=True, slots=True)
class VersionVulns:
    """What a version carries: every advisory id (aliases included) and the means."""

    vulnerabilities: list[str]
    mean: float
    weighted_mean: float
    unscored: int

    @classmethod
    def none(cls) -> VersionVulns:
        return cls([], 0.0, 0.0, 0)


def version_vulns(advisories: Sequence[tuple[Advisory, Score]]) -> VersionVulns:
    """Alias groups (connected components of id and aliases) count once, with their highest
    score; a group without any score counts as unscored. securechain-compat.md §1.3:
    mean = sum/len, weighted_mean = sum(x^2)/sum(x), rounded to 2; nothing scored -> 0.0."""
    if not advisories:
        return VersionVulns.none()
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    ids: set[str] = set()
    for advisory, _ in advisories:
        ids.add(advisory.id)
        for alias in advisory.aliases:
            ids.add(alias)
            parent[find(alias)] = find(advisory.id)
    best: dict[str, float | None] = {}
    for advisory, result in advisories:
        root = find(advisory.id)
        previous = best.get(root)
        if result.value is not None and (previous is None or result.value > previous):
            best[root] = result.value
        else:
            best.setdefault(root, previous)
    scores = [value for value in best.values() if value is not None]
    unscored = sum(1 for value in best.values() if value is None)
    return VersionVulns(sorted(ids), *means(scores), unscored)


def means(scores: Sequence[float]) -> tuple[float, float]:
    if not scores:
        return 0.0, 0.0
    total = sum(scores)
    mean = round(total / len(scores), 2)
    weighted = round(sum(x * x for x in scores) / total, 2) if total > 0 else 0.0
    return mean, weighted
