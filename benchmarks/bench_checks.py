"""`ssc check` on a 1,000,000-version SQLite graph: the target is <= 10 s.

Run: python benchmarks/bench_checks.py [--packages N] [--versions N] [--deps N]

The graph is a SQLite file with N packages spread over the six ecosystems, each with
`--versions` versions and `--deps` REQUIRE edges per version to other packages, plus one
earlier ingest run per ecosystem with its recorded counts (so the regression and backlog checks
have a run to compare with). A few defects are planted: orphan versions, edges to packages not
stored, one name twin, so every counting check has something to find. The rows are inserted
with SQL in the store's own format (setup only; the write path has its own benchmarks). Then,
side by side:

1. `ssc check --json` as the operator runs it (a child process: start-up, every check of every
   ecosystem, results recorded), timed from outside;
2. the same checks in-process (`pipeline.checks.run_all`), without interpreter start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ssc_cli.graph.interface import dumps  # noqa: E402
from ssc_cli.graph.sqlite import SqliteStore  # noqa: E402
from ssc_cli.models import Ecosystem  # noqa: E402
from ssc_cli.pipeline.checks import run_all  # noqa: E402
from ssc_cli.settings import Settings  # noqa: E402

ORPHANS, DANGLING, TWINS = 3, 5, 1
MOMENT = "2026-01-01T00:00:00+00:00"


def package_name(eco: Ecosystem, i: int) -> str:
    if eco is Ecosystem.MAVEN:
        return f"org.bench{i % 97}:artifact-{i}"
    return f"bench-{i}"


def build(path: Path, packages: int, versions: int, deps: int) -> dict[str, int]:
    """Write the graph; return what was planted."""
    store = SqliteStore(path)
    store.migrate()
    db = store._db
    ecosystems = list(Ecosystem)
    db.execute("BEGIN")
    pkg_rows, ver_rows, edge_rows = [], [], []

    def flush() -> None:
        db.executemany(
            "INSERT INTO packages (purl, ecosystem, name, status, moment) VALUES (?,?,?,?,?)",
            pkg_rows,
        )
        db.executemany(
            "INSERT INTO versions (purl, package_purl, name, serial_number) VALUES (?,?,?,?)",
            ver_rows,
        )
        db.executemany(
            "INSERT INTO requires (from_purl, to_purl, key, constraints) VALUES (?,?,?,?)",
            edge_rows,
        )
        pkg_rows.clear(), ver_rows.clear(), edge_rows.clear()

    by_eco = len(ecosystems)
    for i in range(packages):
        eco = ecosystems[i % by_eco]
        purl = eco.purl(package_name(eco, i))
        pkg_rows.append((purl, eco.value, package_name(eco, i), "extracted", MOMENT))
        for v in range(versions):
            vpurl = f"{purl}@1.{v}.0"
            ver_rows.append((vpurl, purl, f"1.{v}.0", v))
            for d in range(deps):
                # Targets in the same ecosystem, stored (i + k * by_eco stays in the ecosystem).
                target = (i + (d + 1) * 7 * by_eco) % packages
                target -= target % by_eco - i % by_eco
                if target >= packages:
                    target -= by_eco
                to = eco.purl(package_name(eco, target))
                edge_rows.append((vpurl, to, "", ">=1.0"))
        if len(ver_rows) >= 50_000:
            flush()
    flush()
    eco = Ecosystem.PYPI
    first = f"{eco.purl(package_name(eco, 0))}@1.0.0"
    # Versions of packages that are not stored; edges to packages that are not stored; a name
    # twin (Bench_0 next to bench-0: equal once normalised).
    ver_rows.extend(
        (f"pkg:pypi/gone-{k}@1.0", f"pkg:pypi/gone-{k}", "1.0", 0) for k in range(ORPHANS)
    )
    edge_rows.extend((first, f"pkg:pypi/nowhere-{k}", "", "*") for k in range(DANGLING))
    pkg_rows.extend([("pkg:pypi/Bench_0", "pypi", "Bench_0", "extracted", MOMENT)] * TWINS)
    flush()
    counts = {e.value: store.graph_counts(e) for e in ecosystems}
    for e in ecosystems:
        summary = {"graph_counts": {e.value: counts[e.value]}, "pending_left": 0}
        db.execute(
            "INSERT INTO runs (job, ecosystem, started_at, finished_at, status, summary) "
            "VALUES ('ingest', ?, ?, ?, 'ok', ?)",
            (e.value, MOMENT, MOMENT, dumps(summary)),
        )
    db.execute("COMMIT")
    db.execute("ANALYZE")
    total = db.execute("SELECT count(*) FROM versions").fetchone()[0]
    edges = db.execute("SELECT count(*) FROM requires").fetchone()[0]
    store.close()
    return {"versions": total, "edges": edges, "packages": packages + TWINS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--deps", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-checks-") as tmp:
        path = Path(tmp) / "graph.sqlite"
        started = time.perf_counter()
        planted = build(path, args.packages, args.versions, args.deps)
        setup = time.perf_counter() - started
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SSC_DATA_DIR": tmp,
            "SSC_CACHE_DIR": str(Path(tmp) / "cache"),
            "SSC_GRAPH_URI": f"sqlite:///{path}",
        }
        for name in ("SSC_REDIS_URL", "REDIS_HOST", "SSC_ENV_FILE"):  # no queue: graph checks only
            env.pop(name, None)
        started = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-m", "ssc_cli", "check", "--json"],
            env=env, capture_output=True, text=True, cwd=tmp,
        )  # fmt: skip
        cli_seconds = time.perf_counter() - started
        if child.returncode not in (0, 3):
            raise SystemExit(f"ssc check failed ({child.returncode}): {child.stderr[-2000:]}")
        report = json.loads(child.stdout)
        store = SqliteStore(path)
        settings = Settings(_env_file=None, data_dir=Path(tmp), graph_uri=f"sqlite:///{path}")  # type: ignore[call-arg]
        started = time.perf_counter()
        results = run_all(store, settings, None)
        in_process = time.perf_counter() - started
        store.close()
    failed = sorted(r.key for r in results if not r.passed)
    print(
        json.dumps(
            {
                **planted,
                "setup_seconds": round(setup, 1),
                "ssc_check_seconds": round(cli_seconds, 2),
                "ssc_check_exit_code": child.returncode,
                "run_all_seconds": round(in_process, 2),
                "checks": len(results),
                "failed": failed,
                "target_seconds": 10,
                "within_target": cli_seconds <= 10,
                "cli_checks": len(report.get("checks", [])),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
