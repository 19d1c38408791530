"""Matching, exactly the OSV specification: one advisory x one package's versions -> affected ones.

Pure: no store, no network. Per `affected[]` entry on its own (ecosystem and name in the same
entry), a version is affected when it equals an item of `versions[]` under the ecosystem's
version equality, or lies in one of the entry's SEMVER/ECOSYSTEM ranges. Ranges are evaluated
the way osv.dev enumerates them (osv/impact.py `enumerate_versions` and
ecosystems_base.py `_get_affected_versions`): events sorted by version (stable, `introduced: "0"`
first), an interval opens at the first `introduced` and closes at the next `fixed` (exclusive)
or `last_affected` (inclusive), an unclosed interval runs to the end, and `limit` events cut
everything at or above the highest of them (`*` = no limit). GIT ranges need commits: skipped
and counted. A version the ecosystem's ordering cannot parse is reported as unparseable, never
silently "not affected"; an event value it cannot parse sorts after every version, as in osv.dev.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssc_cli.models import Ecosystem
from ssc_cli.vulns.ecosystems import Rules, from_osv, rules
from ssc_cli.vulns.interface import Advisory, Affected

# Keys are tuples so the two sentinels order against every parsed value: (0,) is `introduced: "0"`
# (before everything), (2,) an unparseable event value (after everything), (1, value) the rest.
ZERO: tuple[Any, ...] = (0,)
INVALID: tuple[Any, ...] = (2,)
_RANGE_TYPES = frozenset({"SEMVER", "ECOSYSTEM"})


@dataclass(frozen=True, slots=True)
class Interval:
    """[low, high) or [low, high]; high None = no upper bound."""

    low: tuple[Any, ...]
    high: tuple[Any, ...] | None
    inclusive: bool

    def __contains__(self, key: tuple[Any, ...]) -> bool:
        if key < self.low:
            return False
        if self.high is None:
            return True
        return key <= self.high if self.inclusive else key < self.high


@dataclass(frozen=True, slots=True)
class CompiledRange:
    intervals: tuple[Interval, ...]
    limits: tuple[tuple[Any, ...], ...]  # empty: no limit

    def contains(self, key: tuple[Any, ...]) -> bool:
        if self.limits and not any(key < limit for limit in self.limits):
            return False
        return any(key in interval for interval in self.intervals)


@dataclass(frozen=True, slots=True)
class CompiledEntry:
    """One affected[] entry of the package, its events and versions parsed once."""

    ranges: tuple[CompiledRange, ...]
    listed_keys: tuple[tuple[Any, ...], ...]  # sorted, parsed versions[]
    listed_strings: frozenset[str]  # versions[] items as written (exact fallback)
    git_ranges: int


@dataclass(slots=True)
class Verdict:
    """What one advisory says about one package's versions."""

    affected: set[str] = field(default_factory=set)
    unparseable: set[str] = field(default_factory=set)
    git_ranges: int = 0


class VersionKeys:
    """Parsed versions of one ecosystem, cached by string (the hot path of attribution)."""

    def __init__(self, ecosystem: Ecosystem, cache_size: int = 500_000) -> None:
        self.rules: Rules = rules(ecosystem)
        self._cache: dict[str, tuple[Any, ...] | None] = {}
        self._cache_size = cache_size

    def key(self, version: str) -> tuple[Any, ...] | None:
        """The version's key, None when the ordering cannot parse it."""
        try:
            return self._cache[version]
        except KeyError:
            pass
        try:
            key: tuple[Any, ...] | None = (1, self.rules.version_key(version))
        except Exception:  # univers raises InvalidVersion, ValueError, TypeError, ...
            key = None
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[version] = key
        return key

    def event_key(self, value: str) -> tuple[Any, ...]:
        if value == "0":
            return ZERO
        key = self.key(value)
        return INVALID if key is None else key


def entries_for(advisory: Advisory, ecosystem: Ecosystem, name: str) -> list[Affected]:
    """The affected[] entries naming this package (ecosystem and name in the same entry)."""
    wanted = rules(ecosystem).match_name(name)
    match_name = rules(ecosystem).match_name
    return [
        entry
        for entry in advisory.affected
        if entry.package is not None
        and from_osv(entry.package.ecosystem) is ecosystem
        and match_name(entry.package.name) == wanted
    ]


def compile_entry(
    entry: Affected, keys: VersionKeys, *, use_versions: bool = True
) -> CompiledEntry:
    ranges = []
    git = 0
    for rng in entry.ranges:
        if rng.type in _RANGE_TYPES:
            ranges.append(compile_range(rng.events, keys))
        else:
            git += 1  # GIT (commit ancestry) or a type this schema version does not define
    listed = entry.versions if use_versions else []
    parsed = sorted(k for k in (keys.key(v) for v in listed) if k is not None)
    return CompiledEntry(tuple(ranges), tuple(parsed), frozenset(listed), git)


def compile_range(events: Iterable[Any], keys: VersionKeys) -> CompiledRange:
    """osv.dev's pairing of sorted events into intervals (osv/impact.py enumerate_versions)."""
    zero = False
    bounded: list[tuple[tuple[Any, ...], str]] = []
    limits: list[tuple[Any, ...]] = []
    unlimited = False
    for event in events:
        kind, value = event.kind, event.value
        if kind == "introduced" and value == "0":
            zero = True
        elif kind == "limit":
            if "*" in value:
                unlimited = True
            else:
                limits.append(keys.event_key(value))
        else:
            bounded.append((keys.event_key(value), kind))
    bounded.sort(key=lambda pair: pair[0])  # stable: equal versions keep the record's order
    if zero:
        bounded.insert(0, (ZERO, "introduced"))
    intervals = []
    low: tuple[Any, ...] | None = None
    for key, kind in bounded:
        if kind == "introduced":
            if low is None:
                low = key
        elif low is not None:
            intervals.append(Interval(low, key, inclusive=kind == "last_affected"))
            low = None
    if low is not None:
        intervals.append(Interval(low, None, inclusive=False))
    return CompiledRange(tuple(intervals), () if unlimited else tuple(limits))


def evaluate(
    entries: Sequence[CompiledEntry], versions: Iterable[str], keys: VersionKeys
) -> Verdict:
    """Which of these versions the entries affect (their union), and which cannot be placed."""
    verdict = Verdict(git_ranges=sum(e.git_ranges for e in entries))
    has_ranges = any(e.ranges for e in entries)
    for version in versions:
        if any(version in e.listed_strings for e in entries):
            verdict.affected.add(version)
            continue
        key = keys.key(version)
        if key is None:
            if has_ranges or any(e.listed_keys for e in entries):
                verdict.unparseable.add(version)
            continue
        for entry in entries:
            if _listed(entry.listed_keys, key) or any(r.contains(key) for r in entry.ranges):
                verdict.affected.add(version)
                break
    return verdict


def _listed(sorted_keys: tuple[tuple[Any, ...], ...], key: tuple[Any, ...]) -> bool:
    if not sorted_keys:
        return False
    index = bisect_left(sorted_keys, key)
    return index < len(sorted_keys) and sorted_keys[index] == key


def affected_versions(
    advisory: Advisory,
    ecosystem: Ecosystem,
    name: str,
    versions: Iterable[str],
    *,
    use_versions: bool = True,
    keys: VersionKeys | None = None,
) -> Verdict:
    """The versions of one package (graph spelling) this advisory affects.

    Withdrawn advisories affect nothing. use_versions=False evaluates the ranges alone (what
    the conformance tests compare with the record's own enumerated list).
    """
    if advisory.withdrawn is not None:
        return Verdict()
    keys = keys or VersionKeys(ecosystem)
    entries = [
        compile_entry(entry, keys, use_versions=use_versions)
        for entry in entries_for(advisory, ecosystem, name)
    ]
    return evaluate(entries, versions, keys)
