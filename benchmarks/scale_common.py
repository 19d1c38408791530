"""Shared by the bench_scale_* scripts: serve a realistic universe, run ssc in a child, measure.

The fake registry (tests/fakeregistry/realistic_apps.py) runs in threads of the benchmark's own
process; ssc runs as `python -m ssc_cli` in a child process so that its CPU time (wait4) and
peak RSS (its own VmHWM, benchmarks/own_peak.py: wait4's ru_maxrss would include this process's
RSS at fork, the universe's size) are its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import own_peak  # noqa: E402

from tests.fakeregistry.realistic import Universe  # noqa: E402
from tests.fakeregistry.realistic_apps import MavenScale, NpmScale, PyPIScale  # noqa: E402
from tests.fakeregistry.server import FakeRegistry  # noqa: E402

# Default politeness budgets (ssc_cli/settings.py, from reference/registries.md §10).
BUDGETS = {"pypi": (5.0, 10), "npm": (10.0, 16), "maven": (2.0, 4)}
RATE_SETTING = {"pypi": "SSC_PYPI_RATE", "npm": "SSC_NPM_RATE", "maven": "SSC_MAVEN_RATE"}
CAP_SETTING = {
    "pypi": "SSC_PYPI_CONCURRENCY",
    "npm": "SSC_NPM_CONCURRENCY",
    "maven": "SSC_MAVEN_CONCURRENCY",
}


@dataclass
class Served:
    """A running fake registry for one universe, and the settings that point ssc at it."""

    universe: Universe
    server: FakeRegistry
    app: Any
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        self.server.stop()

    def advance_day(self) -> list[int]:
        """One day of churn, published the way the ecosystem publishes it."""
        changed = self.universe.advance_day()
        if isinstance(self.app, MavenScale):
            self.app.publish_day(changed)
        return changed


def serve(ecosystem: str, n: int, *, latency: tuple[float, float] = (0.05, 0.1)) -> Served:
    """Start the fake registry of n packages with a uniform latency per request."""
    universe = Universe(ecosystem, n)
    server = FakeRegistry(latency=latency[0], latency_max=latency[1], keep_log=False).start()
    env: dict[str, str] = {}
    app: Any
    if ecosystem == "pypi":
        app = server.mount("pypi", PyPIScale(universe))
        env["SSC_PYPI_URL"] = server.url("pypi")
    elif ecosystem == "npm":
        app = NpmScale(universe)
        env["SSC_NPM_URL"], env["SSC_NPM_REPLICATE_URL"] = app.mount(server)
    elif ecosystem == "maven":
        app = server.mount("maven", MavenScale(universe))
        env["SSC_MAVEN_URL"] = server.url("maven")
    else:
        raise SystemExit(f"no realistic universe for {ecosystem!r}: pypi, npm or maven")
    return Served(universe, server, app, env)


def ssc_env(workdir: Path, served: Served, **extra: str) -> dict[str, str]:
    """A clean environment: no SSC_* from the caller, the graph and caches under workdir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSC_", "GRAPH_DB_"))}
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "SSC_DATA_DIR": str(workdir / "data"),
            "SSC_CACHE_DIR": str(workdir / "cache"),
            "SSC_GRAPH_URI": f"sqlite:///{workdir / 'graph.sqlite'}",
        }
    )
    env.update(served.env)
    env.update(extra)
    return env


def run_ssc(env: dict[str, str], *args: str) -> dict[str, Any]:
    """One `ssc --json ARGS` child: its summary plus its own wall, CPU seconds and peak RSS (MB)."""
    started = time.monotonic()
    fd, name = tempfile.mkstemp(prefix="ssc-peak-rss-")
    os.close(fd)
    peak_file = Path(name)
    child = subprocess.Popen(
        own_peak.command(peak_file, "--json", *args),
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None and child.stderr is not None
    out = child.stdout.read()
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"ssc {' '.join(args)} exited {code}: {err.decode()[-2000:]}")
    summary: dict[str, Any] = json.loads(out)
    summary["_wall_s"] = time.monotonic() - started
    summary["_cpu_s"] = usage.ru_utime + usage.ru_stime
    summary["_rss_mb"] = own_peak.read_mb(peak_file)
    peak_file.unlink()
    return summary


def graph_bytes(workdir: Path) -> dict[str, int]:
    """Bytes of the SQLite graph (with its WAL) and of the cache directory."""
    graph = sum(p.stat().st_size for p in workdir.glob("graph.sqlite*"))
    cache = sum(p.stat().st_size for p in (workdir / "cache").rglob("*") if p.is_file())
    data = sum(p.stat().st_size for p in (workdir / "data").rglob("*") if p.is_file())
    return {"graph": graph, "cache": cache, "data": data}


def graph_counts(workdir: Path) -> dict[str, float]:
    """Packages, versions and edges in the graph, and SQLite bytes per version and per edge.

    Bytes come from the dbstat table: each table's pages plus those of its indexes, so a
    version's share includes its purl/name indexes and an edge's the indexes on `requires`.
    """
    import sqlite3

    db = sqlite3.connect(workdir / "graph.sqlite")
    try:
        counts = {
            table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("packages", "versions", "requires")
        }
        owner = dict(
            db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")
        )
        pages: dict[str, int] = {}
        for name, size in db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            pages[table] = pages.get(table, 0) + size
        total = sum(pages.values())
        result: dict[str, float] = dict(counts)
        result["bytes_total"] = total
        result["bytes_per_version"] = pages.get("versions", 0) / max(1, counts["versions"])
        result["bytes_per_edge"] = pages.get("requires", 0) / max(1, counts["requires"])
        result["bytes_packages"] = pages.get("packages", 0)
        return result
    finally:
        db.close()
