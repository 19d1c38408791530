"""Attribution: a batch of packages' versions + their advisories -> each version's fields.

One source query per batch (VulnerabilitySource.advisories), the matcher per advisory, scores
per advisory, alias groups per version. Used inline by the extraction path (records about to be
written) and by `ssc vulns attribute` (stored versions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ssc_cli.models import Ecosystem, PackageRecord
from ssc_cli.vulns.interface import Advisory, VulnerabilitySource
from ssc_cli.vulns.match import VersionKeys, compile_entry, entries_for, evaluate
from ssc_cli.vulns.severity import Score, VersionVulns, score, version_vulns

_SAMPLE = 20  # unparseable versions named in a summary


@dataclass
class AttributionStats:
    """Counters of one run (inline or `vulns attribute`)."""

    packages: int = 0
    versions: int = 0
    vulnerable_versions: int = 0
    advisories_matched: set[str] = field(default_factory=set)
    unscored_advisories: set[str] = field(default_factory=set)
    unparseable_versions: int = 0
    unparseable_sample: list[str] = field(default_factory=list)
    git_ranges_skipped: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "packages_attributed": self.packages,
            "versions_attributed": self.versions,
            "vulnerable_versions": self.vulnerable_versions,
            "advisories_matched": len(self.advisories_matched),
            "unscored_advisories": len(self.unscored_advisories),
            "unparseable_versions": self.unparseable_versions,
            "unparseable_sample": list(self.unparseable_sample),
            "git_ranges_skipped": self.git_ranges_skipped,
        }


class Attributor:
    """Computes attributions against one source; keeps parsed versions per ecosystem."""

    def __init__(self, source: VulnerabilitySource) -> None:
        self.source = source
        self.stats = AttributionStats()
        self._keys: dict[Ecosystem, VersionKeys] = {}

    def keys(self, ecosystem: Ecosystem) -> VersionKeys:
        keys = self._keys.get(ecosystem)
        if keys is None:
            keys = self._keys[ecosystem] = VersionKeys(ecosystem)
        return keys

    def attribute(
        self, ecosystem: Ecosystem, packages: Mapping[str, Sequence[str]]
    ) -> dict[str, dict[str, VersionVulns]]:
        """package name -> version name -> its attribution, for a batch of packages."""
        found = self.source.advisories(ecosystem, list(packages)) if packages else {}
        return {
            name: self._package(ecosystem, name, versions, found.get(name, ()))
            for name, versions in packages.items()
        }

    def _package(
        self,
        ecosystem: Ecosystem,
        name: str,
        versions: Sequence[str],
        advisories: Iterable[Advisory],
    ) -> dict[str, VersionVulns]:
        stats = self.stats
        stats.packages += 1
        stats.versions += len(versions)
        hits: dict[str, list[tuple[Advisory, Score]]] = {}
        keys = self.keys(ecosystem)
        unparseable: set[str] = set()
        seen: set[str] = set()
        for advisory in advisories:
            if advisory.withdrawn is not None or advisory.id in seen:
                continue
            seen.add(advisory.id)
            entries = entries_for(advisory, ecosystem, name)
            if not entries:
                continue
            verdict = evaluate([compile_entry(e, keys) for e in entries], versions, keys)
            stats.git_ranges_skipped += verdict.git_ranges
            unparseable |= verdict.unparseable
            if not verdict.affected:
                continue
            result = score(advisory, entries)
            stats.advisories_matched.add(advisory.id)
            if result.value is None:
                stats.unscored_advisories.add(advisory.id)
            for version in verdict.affected:
                hits.setdefault(version, []).append((advisory, result))
        if unparseable:
            stats.unparseable_versions += len(unparseable)
            room = _SAMPLE - len(stats.unparseable_sample)
            stats.unparseable_sample.extend(
                ecosystem.purl(name, v) for v in sorted(unparseable)[:room]
            )
        stats.vulnerable_versions += len(hits)
        none = VersionVulns.none()
        return {v: version_vulns(hits[v]) if v in hits else none for v in versions}

    def attribute_records(self, records: Sequence[PackageRecord]) -> None:
        """The inline hook: fill in each version of records about to be written."""
        by_eco: dict[Ecosystem, list[PackageRecord]] = {}
        for record in records:
            if record.versions:
                by_eco.setdefault(record.ecosystem, []).append(record)
        for eco, group in by_eco.items():
            batch = {r.name: [v.name for v in r.versions] for r in group}
            result = self.attribute(eco, batch)
            for record in group:
                attributed = result[record.name]
                for version in record.versions:
                    vulns = attributed[version.name]
                    version.vulnerabilities = list(vulns.vulnerabilities)
                    version.mean = vulns.mean
                    version.weighted_mean = vulns.weighted_mean
                    version.unscored_vulnerabilities = vulns.unscored
