"""Classifying 500,000 packages, and reclassifying only the 1 % whose signals changed.

Run: python benchmarks/bench_classify.py [--packages N] [--versions N] [--changed F]
Needs ../shared/fixtures/real/spdx (the SPDX list 3.28.0).

The graph is a SQLite file with N packages spread over the six ecosystems, each with
`--versions` versions; every version carries signals drawn from the real strings of
tests/licenses/data/evaluation.json for its ecosystem (NuGet versions with a licence page naming
their version, as registration entries do; one package in ten with an older version under
another licence). The rows are inserted with SQL in the stores' own format (setup only; the
write path has its own benchmark). Then, side by side in one process:

1. `ssc classify --all`'s pipeline function over every package (the target: <= 60 s);
2. `ssc classify` (changed only) right after: reads and digests everything, classifies nothing;
3. an update-like run: 10 % of the packages rewritten (their `moment` moves), 1 % of all with
   changed signals; the end-of-run hook classifies only those.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ssc_cli.graph.interface import dumps, now_iso  # noqa: E402
from ssc_cli.graph.sqlite import SqliteStore  # noqa: E402
from ssc_cli.models import Ecosystem  # noqa: E402
from ssc_cli.pipeline.classify import classify_stored, classify_written  # noqa: E402
from tests.licenses.spdx_data import SPDX_DIR  # noqa: E402

EVAL = REPO / "tests" / "licenses" / "data" / "evaluation.json"
VERSIONS = ["1.0.0", "1.1.0", "2.0.0", "2.1.0", "3.0.0", "3.1.0", "4.0.0", "4.1.0"]


def _pools() -> dict[Ecosystem, list[dict[str, object]]]:
    pools: dict[Ecosystem, list[dict[str, object]]] = {e: [] for e in Ecosystem}
    for item in json.loads(EVAL.read_text(encoding="utf-8")):
        pools[Ecosystem(item["ecosystem"])].append(item["signals"])
    return pools


def package_name(eco: Ecosystem, i: int) -> str:
    return f"org.bench:bench-{i:07d}" if eco is Ecosystem.MAVEN else f"bench-{i:07d}"


def _signals(eco: Ecosystem, base: dict[str, object], name: str, version: str) -> dict[str, object]:
    if eco is Ecosystem.NUGET and "licenseExpression" in base:
        return {**base, "licenseUrl": f"https://www.nuget.org/packages/{name}/{version}/license"}
    return base


def build(path: Path, packages: int, versions: int, seed: int = 7) -> SqliteStore:
    rng = random.Random(seed)
    pools = _pools()
    store = SqliteStore(path)
    store.migrate()
    moment = "2026-01-01T00:00:00+00:00"
    db = store._db
    ecosystems = list(Ecosystem)
    db.execute("BEGIN")
    package_rows, version_rows = [], []
    for i in range(packages):
        eco = ecosystems[i % len(ecosystems)]
        name = package_name(eco, i)
        purl = eco.purl(name)
        base = rng.choice(pools[eco])
        older = rng.choice(pools[eco]) if i % 10 == 0 else base
        for serial, version in enumerate(VERSIONS[:versions]):
            sig = _signals(eco, older if serial == 0 else base, name, version)
            vpurl = eco.purl(name, version)
            version_rows.append((vpurl, purl, version, serial, dumps(sig) if sig else None))
        last = _signals(eco, base, name, VERSIONS[versions - 1])
        package_rows.append((purl, eco.value, name, moment, dumps(last) if last else None))
        if len(version_rows) >= 50_000:
            _flush(db, package_rows, version_rows)
    _flush(db, package_rows, version_rows)
    db.execute("COMMIT")
    lst = _spdx()
    store.replace_license_list(lst.version, lst.release_date, lst.records)
    return store


def _flush(
    db: object, packages: list[tuple[object, ...]], versions: list[tuple[object, ...]]
) -> None:
    db.executemany(  # type: ignore[attr-defined]
        "INSERT INTO packages (purl, ecosystem, name, status, moment, licenses) "
        "VALUES (?,?,?,'extracted',?,?)",
        packages,
    )
    db.executemany(  # type: ignore[attr-defined]
        "INSERT INTO versions (purl, package_purl, name, serial_number, licenses) VALUES (?,?,?,?,?)",
        versions,
    )
    packages.clear()
    versions.clear()


def _spdx():  # type: ignore[no-untyped-def]
    from ssc_cli.licenses.spdx import read_local

    return read_local(str(SPDX_DIR))


def _timed(fn):  # type: ignore[no-untyped-def]
    cpu, wall = time.process_time(), time.perf_counter()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def simulate_update(store: SqliteStore, packages: int, rewritten: float, changed: float) -> str:
    """Move `moment` of a share of the packages (an update rewrote them) and change the signals
    of the newest version of a smaller share; returns the update's start time."""
    since = now_iso()
    db = store._db
    db.execute("BEGIN")
    step_rewritten = max(1, round(1 / rewritten))
    step_changed = max(1, round(1 / changed))
    ecosystems = list(Ecosystem)
    for i in range(0, packages, step_rewritten):
        eco = ecosystems[i % len(ecosystems)]
        db.execute(
            "UPDATE packages SET moment = ? WHERE purl = ?", (since, eco.purl(package_name(eco, i)))
        )
    for i in range(0, packages, step_changed):
        eco = ecosystems[i % len(ecosystems)]
        name = package_name(eco, i)
        sig = {
            Ecosystem.PYPI: {"license_expression": "BUSL-1.1"},
            Ecosystem.NPM: {"license": "BUSL-1.1"},
            Ecosystem.CARGO: {"license": "BUSL-1.1"},
            Ecosystem.RUBYGEMS: {"licenses": ["BUSL-1.1"]},
            Ecosystem.MAVEN: {"licenses": [{"name": "BUSL-1.1"}]},
            Ecosystem.NUGET: {"licenseExpression": "BUSL-1.1"},
        }[eco]
        db.execute(
            "UPDATE versions SET licenses = ? WHERE package_purl = ? AND serial_number = "
            "(SELECT max(serial_number) FROM versions WHERE package_purl = ?)",
            (dumps(sig), eco.purl(name), eco.purl(name)),
        )
        db.execute("UPDATE packages SET moment = ? WHERE purl = ?", (since, eco.purl(name)))
    db.execute("COMMIT")
    return since


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packages", type=int, default=500_000)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--rewritten", type=float, default=0.10)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--batch", type=int, default=2000)
    args, _ignored = parser.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="bench-classify-") as tmp:
        path = Path(tmp) / "graph.sqlite"
        started = time.perf_counter()
        store = build(path, args.packages, args.versions)
        size = os.path.getsize(path) / 1e6
        print(
            f"graph: {args.packages:,} packages x {args.versions} versions, {size:,.0f} MB, "
            f"built in {time.perf_counter() - started:.1f} s"
        )
        ecosystems = list(Ecosystem)
        full, wall, cpu = _timed(
            lambda: classify_stored(store, ecosystems, every=True, batch_size=args.batch)
        )
        print(
            f"classify --all: {full.packages_classified:,} packages, "
            f"{full.versions_classified:,} versions with their own verdict, {wall:.1f} s wall, "
            f"{cpu:.1f} s CPU, {full.packages_classified / wall:,.0f} packages/s "
            f"(target <= 60 s)"
        )
        print(f"  by status: {full.by_status}")
        again, wall2, cpu2 = _timed(
            lambda: classify_stored(store, ecosystems, batch_size=args.batch)
        )
        print(
            f"classify (changed only, nothing changed): {again.packages_classified} classified of "
            f"{again.packages_checked:,} checked, {wall2:.1f} s wall, {cpu2:.1f} s CPU"
        )
        since = simulate_update(store, args.packages, args.rewritten, args.changed)
        expected = len(range(0, args.packages, max(1, round(1 / args.changed))))

        def hook() -> tuple[int, int]:
            done = checked = 0
            for eco in ecosystems:
                summary = classify_written(store, eco, since=since, batch_size=args.batch)
                done += summary.packages_classified
                checked += summary.packages_checked
            return done, checked

        (done, checked), wall3, cpu3 = _timed(hook)
        print(
            f"end-of-update hook: {checked:,} packages written by the update, {done:,} "
            f"reclassified (signals changed for {expected:,}), {wall3:.2f} s wall, {cpu3:.2f} s CPU"
        )
        assert done == expected, (done, expected)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS: {peak:,.0f} MB")
        store.close()


if __name__ == "__main__":
    main()
