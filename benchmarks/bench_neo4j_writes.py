"""ssc's batched UNWIND writes vs the old pipeline's per-version statements, on the real Neo4j.

Run: python benchmarks/bench_neo4j_writes.py [--packages N] [--versions N] [--deps N] [--batch N,...]
         [--jvm light,tuned] [--repeat N] [--warmup N] [--no-old]

Starts the Neo4j 5.26 test server (tests/servers, built by `python3 -m tests.servers build`),
then writes the same graph twice, side by side in one run: N PyPI packages with `--versions`
versions each (20,000 versions by default), each version requiring `--deps` earlier packages.

1. ssc: `Neo4jStore.write_packages` on batches of `--batch` packages (one managed transaction
   per batch, one UNWIND statement per kind of row), after `migrate()` made the schema.
2. the old pipeline (tests/old_pipeline.py, its Cypher verbatim): per package one
   `create_package_and_versions`; then per version, per dependency, `read_package_by_name`
   and `relate_packages`, each an auto-commit statement in a fresh session (§1.5, §6-12).
   It runs on the same server after the graph is emptied, with ssc's name indexes in place
   (the dump ships them, §1.6), so the old pattern is not slowed by label scans.

Before either is timed, both write `--warmup` packages of another graph (then emptied): the
first writes on a fresh JVM are several times slower, and only the first writer paid for them.

With several --jvm (server JVM settings, see JVMS) and --batch values, each JVM gets its own
server and its own warm-up, and ssc's write is timed --repeat times per batch size, all in one
run; the old pattern runs once, on the first JVM (--no-old skips it: it takes minutes).

Prints versions/s of each (ssc: the best of its runs, every run listed) and the ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import neo4j  # noqa: E402

from ssc_cli.graph.neo4j import Neo4jStore  # noqa: E402
from ssc_cli.models import Ecosystem, PackageRecord, Requirement, VersionRecord  # noqa: E402
from tests import old_pipeline as old  # noqa: E402
from tests import servers  # noqa: E402


def _deps(i: int, v: int, deps: int) -> list[int]:
    return [(i * 7 + v * 3 + k * 11) % i for k in range(deps)] if i else []


def records(packages: int, versions: int, deps: int, prefix: str = "pkg") -> list[PackageRecord]:
    return [
        PackageRecord(
            ecosystem=Ecosystem.PYPI,
            name=f"{prefix}-{i:05d}",
            versions=[
                VersionRecord(
                    name=f"{v}.0.0",
                    release_date="2024-01-01T00:00:00Z",
                    requirements=[
                        Requirement(name=f"{prefix}-{t:05d}", constraints=">=1.0")
                        for t in sorted(set(_deps(i, v, deps)))
                    ],
                )
                for v in range(versions)
            ],
            repository_url=f"https://github.com/o/{prefix}-{i:05d}",
            import_names=[f"{prefix}_{i:05d}"],
        )
        for i in range(packages)
    ]


def run_ssc(uri: str, recs: list[PackageRecord], batch: int) -> float:
    store = Neo4jStore(uri, "neo4j", "")
    try:
        store.migrate()
        start = time.perf_counter()
        for at in range(0, len(recs), batch):
            store.write_packages(recs[at : at + batch])
        return time.perf_counter() - start
    finally:
        store.close()


def run_old(driver: neo4j.Driver, recs: list[PackageRecord]) -> float:
    moment = datetime(2026, 1, 1)
    start = time.perf_counter()
    for rec in recs:
        created = old.create_package_and_versions(
            driver,
            "PyPIPackage",
            {
                "name": rec.name,
                "vendor": "n/a",
                "repository_url": rec.repository_url,
                "moment": moment,
                "import_names": rec.import_names or [],
            },
            [
                {
                    "name": v.name,
                    "serial_number": n,
                    "mean": 0.0,
                    "weighted_mean": 0.0,
                    "vulnerabilities": [],
                    "release_date": v.release_date,
                }
                for n, v in enumerate(rec.versions)
            ],
        )
        ids = {v["name"]: v["id"] for v in created}
        for version in rec.versions:
            for req in version.requirements or []:
                dep = old.read_package_by_name(driver, "PyPIPackage", req.name)
                assert dep is not None
                old.relate_packages(
                    driver,
                    "PyPIPackage",
                    [
                        {
                            "parent_id": ids[version.name],
                            "id": dep["id"],
                            "constraints": req.constraints,
                            "parent_version_name": rec.name,
                        }
                    ],
                )
    return time.perf_counter() - start


def _wipe(driver: neo4j.Driver) -> None:
    while True:
        summary = driver.execute_query(
            "MATCH (n) WITH n LIMIT 20000 DETACH DELETE n RETURN count(*) AS c"
        )
        if not summary.records or summary.records[0]["c"] == 0:
            return


# JVMs for the server, side by side in one run (--jvm). "light" is what the test fixtures use
# (tests/servers: C1 only, serial GC, 1 GB: the quickest start on two cores); "tuned" is the
# normal tiered JIT (C2 included) with a 2 GB heap and the parallel collector, for the benchmark
# only (the fixtures stay light).
JVMS = {
    "light": list(servers._JAVA_OPTS["neo4j"]),
    "tuned": ["-Xms2g", "-Xmx2g", "-XX:+UseParallelGC"],
    "c2": ["-Xms256m", "-Xmx1g", "-XX:+UseSerialGC"],  # light's heap and GC, the full JIT
}


def _timed_ssc(uri: str, recs: list[PackageRecord], batch: int, repeat: int) -> list[float]:
    """ssc's write of recs, repeat times on an emptied graph; each run's seconds."""
    times = []
    n_versions = sum(len(r.versions) for r in recs)
    with neo4j.GraphDatabase.driver(uri, auth=("neo4j", "")) as driver:
        for _ in range(repeat):
            _wipe(driver)
            times.append(run_ssc(uri, recs, batch))
            counted = driver.execute_query("MATCH (v:Version) RETURN count(v) AS n").records
            assert counted[0]["n"] == n_versions, counted
        _wipe(driver)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages", type=int, default=2_000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--deps", type=int, default=2)
    parser.add_argument(
        "--batch", default="200", help="packages per ssc write; a comma list compares several"
    )
    parser.add_argument(
        "--warmup", type=int, default=200, help="packages each writer writes (untimed) first"
    )
    parser.add_argument(
        "--jvm",
        default="light,tuned",
        help=f"server JVMs to compare, comma-separated: {', '.join(JVMS)}",
    )
    parser.add_argument("--repeat", type=int, default=1, help="timed ssc writes per setting")
    parser.add_argument(
        "--no-old", action="store_true", help="skip the old pattern (it takes minutes)"
    )
    args = parser.parse_args()
    # A young graph makes the server warn about each label it lacks yet: not the benchmark's.
    logging.getLogger("neo4j.notifications").setLevel(logging.ERROR)
    batches = [int(b) for b in args.batch.split(",")]
    jvms = args.jvm.split(",")
    recs = records(args.packages, args.versions, args.deps)
    n_versions = sum(len(r.versions) for r in recs)
    n_edges = sum(len(v.requirements or []) for r in recs for v in r.versions)
    results: list[tuple[str, int, list[float]]] = []
    old_s: float | None = None
    for jvm in jvms:
        server = servers.start("neo4j", java_opts=JVMS[jvm])
        try:
            servers.wait_for_neo4j(server.uri)
            with neo4j.GraphDatabase.driver(server.uri, auth=("neo4j", "")) as driver:
                # A fresh JVM runs its first writes several times slower (JIT, page cache): both
                # writers first write a small other graph, untimed, so neither is timed cold.
                warm = records(args.warmup, args.versions, args.deps, prefix="warm")
                if args.warmup:
                    run_ssc(server.uri, warm, batches[0])
                    _wipe(driver)
                results.extend(
                    (jvm, batch, _timed_ssc(server.uri, recs, batch, args.repeat))
                    for batch in batches
                )
                if old_s is None and not args.no_old:
                    if args.warmup:
                        run_old(driver, warm)
                        _wipe(driver)
                    old_s = run_old(driver, recs)
                    counted = driver.execute_query("MATCH (v:Version) RETURN count(v) AS n")
                    assert counted.records[0]["n"] == n_versions, counted.records
                    old_jvm = jvm
        finally:
            server.stop()
    # neo4j-rust-ext (a dependency) replaces the driver's pure-Python packer when installed.
    packer = "Rust (neo4j-rust-ext)" if importlib.util.find_spec("neo4j._rust") else "pure Python"
    print(f"{args.packages} packages, {n_versions} versions, {n_edges} REQUIRE edges, Neo4j 5.26")
    print(f"driver {neo4j.__version__}, parameters packed in {packer}")
    for jvm, batch, times in results:
        best = min(times)
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(
            f"ssc batched UNWIND, {jvm} JVM ({' '.join(JVMS[jvm])}), {batch} packages/tx: "
            f"best {best:.2f} s  {n_versions / best:8.0f} versions/s  (runs: {runs} s)"
        )
    if old_s is not None:
        print(
            f"old per-version statements, {old_jvm} JVM: {old_s:8.2f} s  "
            f"{n_versions / old_s:8.0f} versions/s"
        )
        best = min(min(times) for jvm, _, times in results if jvm == old_jvm)
        print(f"ratio (best ssc on the same JVM): {old_s / best:.1f}x")


if __name__ == "__main__":
    main()
