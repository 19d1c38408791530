"""ssc vulns show: one advisory, its score, and the stored versions it affects."""

from __future__ import annotations

from typing import Any

from ssc_cli.graph.interface import GraphStore
from ssc_cli.models import Ecosystem
from ssc_cli.vulns.ecosystems import from_osv, rules
from ssc_cli.vulns.interface import VulnerabilitySource, iso
from ssc_cli.vulns.match import affected_versions, entries_for
from ssc_cli.vulns.severity import score


def _graph_names(ecosystem: Ecosystem, name: str) -> list[str]:
    """Spellings the graph may hold for an OSV package name."""
    key = rules(ecosystem).match_name(name)
    if ecosystem is Ecosystem.CARGO:
        return sorted({name.lower(), key, key.replace("_", "-")})
    return [key]


def describe(
    store: GraphStore, source: VulnerabilitySource, advisory_id: str
) -> dict[str, Any] | None:
    advisory = source.get(advisory_id)
    if advisory is None:
        return None
    packages = []
    seen: set[tuple[Ecosystem, str]] = set()
    for entry in advisory.affected:
        if entry.package is None:
            continue
        eco = from_osv(entry.package.ecosystem)
        if eco is None:
            continue
        for name in _graph_names(eco, entry.package.name):
            if (eco, name) in seen:
                continue
            seen.add((eco, name))
            rows = store.vuln_rows(eco, [name]).get(name)
            if rows is None and name != _graph_names(eco, entry.package.name)[0]:
                continue
            verdict = affected_versions(advisory, eco, name, [r.name for r in rows or []])
            result = score(advisory, entries_for(advisory, eco, name))
            packages.append(
                {
                    "ecosystem": eco.value,
                    "name": name,
                    "purl": eco.purl(name),
                    "in_graph": rows is not None,
                    "affected_versions": sorted(verdict.affected),
                    "unparseable_versions": sorted(verdict.unparseable),
                    "score": result.value,
                }
            )
    best = score(advisory)
    return {
        "id": advisory.id,
        "modified": advisory.modified_text,
        "withdrawn": iso(advisory.withdrawn) if advisory.withdrawn else None,
        "aliases": list(advisory.aliases),
        "summary": advisory.summary or (advisory.details or "")[:200] or None,
        "score": best.value,
        "score_kind": best.kind,
        "vector": best.vector,
        "source": f"{source.kind} {source.target}",
        "packages": packages,
    }
