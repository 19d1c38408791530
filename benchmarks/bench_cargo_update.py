"""crates.io update cost vs a full re-crawl, measured side by side in one run.

10,000 crates are ingested from the fake crates.io; then 1% of them change (new versions,
yanks, a deleted version, new crates). `ssc update cargo` must issue at most the feed requests
(the dump: one) plus a small constant per changed crate, and take under a tenth of the time of
`ssc update cargo --full` (every stored crate refetched). Run: python benchmarks/bench_cargo_update.py
[--crates N] [--no-import-names].
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.conftest import Ssc  # noqa: E402
from tests.fakeregistry.cargo import CargoApp, FakeDep  # noqa: E402
from tests.fakeregistry.server import FakeRegistry  # noqa: E402

PER_CHANGED_CRATE = 2  # allowed requests per changed crate (one .crate today)


def environment(home: Path, server: FakeRegistry, import_names: bool) -> dict[str, str]:
    return {
        "SSC_DATA_DIR": str(home / "data"),
        "SSC_CACHE_DIR": str(home / "cache"),
        "SSC_GRAPH_URI": f"sqlite:///{home / 'graph.sqlite'}",
        "SSC_HTTP_RATE_LIMIT": "off",
        "SSC_CRATES_INDEX_URL": server.url("crates-index"),
        "SSC_CRATES_STATIC_URL": server.url("crates-static"),
        "SSC_CRATES_API_URL": server.url("crates-api"),
        "SSC_IMPORT_NAMES": "true" if import_names else "false",
    }


def timed(ssc: Ssc, *args: str) -> tuple[float, dict[str, Any]]:
    started = time.perf_counter()
    summary = json.loads(ssc(*args, "--json", timeout=3600).stdout)
    return time.perf_counter() - started, summary


def change(app: CargoApp, n_crates: int) -> int:
    """Change 1% of the crates; returns how many stored crates changed plus new ones."""
    changed = max(1, n_crates // 100)
    step = n_crates // changed
    for k, i in enumerate(range(0, n_crates, step)):
        name = f"crate-{i:05d}"
        if k % 10 == 0:
            app.yank(name, "1.0.0")
        elif k % 10 == 1:
            app.delete_version(name, "1.1.0")
        else:
            app.publish(name, "2.0.0", [FakeDep("crate-00000", "^1")], modules=["v2"])
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crates", type=int, default=10_000)
    parser.add_argument("--no-import-names", action="store_true")
    args = parser.parse_args()
    import_names = not args.no_import_names
    app = CargoApp.synthetic(args.crates)
    with tempfile.TemporaryDirectory() as tmp, FakeRegistry() as server:
        app.mount_on(server)
        home = Path(tmp)
        ssc = Ssc(home, environment(home, server, import_names))
        ingest_time, ingest = timed(ssc, "ingest", "cargo")
        changed = change(app, args.crates)
        update_time, update = timed(ssc, "update", "cargo")
        full_time, full = timed(ssc, "update", "cargo", "--full")
        noop_time, noop = timed(ssc, "update", "cargo")

    feed = 1  # the dump
    budget = feed + PER_CHANGED_CRATE * changed
    ratio = update_time / full_time
    rows = [
        (
            "ingest (10k crates, from empty)",
            ingest_time,
            ingest["requests"],
            ingest["new_packages_ingested"],
        ),
        ("update (1% changed)", update_time, update["requests"], update["packages_changed"]),
        ("full re-crawl (update --full)", full_time, full["requests"], full["packages_changed"]),
        ("update again (no change)", noop_time, noop["requests"], noop["packages_changed"]),
    ]
    print(f"crates stored: {args.crates}, changed: {changed}, import names: {import_names}")
    print(f"{'run':<34} {'seconds':>8} {'requests':>9} {'packages':>9}")
    for label, seconds, requests, packages in rows:
        print(f"{label:<34} {seconds:8.2f} {requests:9d} {packages:9d}")
    print(f"update/full time ratio: {ratio:.3f} (must be < 0.1)")
    print(
        f"update requests: {update['requests']} (budget {budget} = {feed} feed + {PER_CHANGED_CRATE} x {changed})"
    )
    ok = ratio < 0.1 and update["requests"] <= budget and update["packages_changed"] == changed
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
