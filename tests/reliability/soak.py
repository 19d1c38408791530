"""The fault soak: a fault-free ingest and a faulted ingest (twice, as cron would) of the same
registry, compared. Shared by tests/reliability/test_soak.py and benchmarks/bench_soak.py."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import Ssc
from tests.fakeregistry.server import FakeRegistry, Faults


@dataclass
class SoakResult:
    """Figures of one ecosystem's soak."""

    ecosystem: str
    packages: int  # extracted by the fault-free run
    clean_seconds: float
    faulted_seconds: list[float] = field(default_factory=list)  # per run
    failed_first: int = 0  # recorded failures of the first faulted run
    lost_first: int = 0  # neither extracted nor recorded with a reason after run 1
    failed_last: set[str] = field(default_factory=set)  # recorded failures of the last run
    differing: set[str] = field(default_factory=set)  # packages whose rows differ at the end
    identical: bool = False  # export after the last faulted run == fault-free export
    retries: int = 0
    requests: int = 0
    clean_requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)

    @property
    def time_ratio(self) -> float:
        return sum(self.faulted_seconds) / self.clean_seconds if self.clean_seconds else 0.0


def extracted(export: list[dict[str, Any]]) -> set[str]:
    return {str(i["name"]) for i in export if i["type"] == "package" and i["status"] == "extracted"}


def differing_packages(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> set[str]:
    """Names of the packages whose own row, versions or dependency edges differ."""
    names = {str(i["purl"]): str(i["name"]) for i in [*left, *right] if i["type"] == "package"}
    a = {repr(sorted(i.items())): i for i in left}
    b = {repr(sorted(i.items())): i for i in right}
    out = set()
    for key in a.keys() ^ b.keys():
        row = a.get(key) or b[key]
        purl = row["purl"] if row["type"] == "package" else row.get("package")
        purl = purl or row.get("parent_version_name") or f"({row['type']} row)"
        out.add(names.get(str(purl), str(purl)))
    return out


def diff(left: list[dict[str, Any]], right: list[dict[str, Any]], limit: int = 5) -> list[str]:
    """A few lines that differ between two exports (for the failure message)."""
    a = {repr(sorted(i.items())) for i in left}
    b = {repr(sorted(i.items())) for i in right}
    return [f"- {x}" for x in sorted(a - b)[:limit]] + [f"+ {x}" for x in sorted(b - a)[:limit]]


def soak(
    server: FakeRegistry,
    ssc: Ssc,
    ecosystem: str,
    *,
    seed: int = 1234,
    runs: int = 2,
    faults: Faults | None = None,
) -> SoakResult:
    """Ingest fault-free into one graph, then with the fault mix into another, runs times."""
    clean = ssc.with_graph("clean.sqlite")
    clean.env["SSC_CACHE_DIR"] = str(ssc.home / "cache-clean")
    server.faults = Faults()
    started = time.monotonic()
    first = clean.json("ingest", ecosystem)
    result = SoakResult(ecosystem, 0, time.monotonic() - started)
    result.clean_requests = int(first["http"]["requests"])
    reference = clean.export()
    want = extracted(reference)
    result.packages = len(want)

    faulted = ssc.with_graph("faulted.sqlite")
    faulted.env.update({"SSC_CACHE_DIR": str(ssc.home / "cache-faulted"), "SSC_HTTP_TIMEOUT": "1"})
    server.faults = faults or Faults.soak(seed, timeout_seconds=1.5)
    for run in range(runs):
        started = time.monotonic()
        summary = faulted.json("ingest", ecosystem, expect=None)
        result.faulted_seconds.append(time.monotonic() - started)
        assert "error" not in summary, summary  # a run stopped whole is not a soak result
        result.retries += int(summary["http"]["retries"])
        result.requests += int(summary["http"]["requests"])
        if run == 0:
            failed = {str(f["package"]) for f in summary["failures"]}
            result.failed_first = len(failed)
            got = extracted(faulted.export())
            result.lost_first = len(want - got - failed)
        if run == runs - 1:
            result.failed_last = {str(f["package"]) for f in summary["failures"]}
    server.faults, drawn = Faults(), dict(server.faults.drawn)
    result.faults = drawn
    final = faulted.export()
    result.identical = final == reference
    if not result.identical:
        result.differences = diff(reference, final)
        result.differing = differing_packages(reference, final)
    return result
