"""npm update cost vs a full re-crawl, measured side by side: python benchmarks/bench_npm_update.py

A synthetic registry of N packages (default 10,000, three versions each, real .tgz tarballs) is
served by the fake registry on 127.0.0.1. `ssc ingest npm` loads it; then 1% of the packages
change (new versions, deprecations, new dependencies) and `ssc update npm` runs. The figures:
the update's requests against the bound "feed requests + 2 per changed package" (packument +
tarball) and its wall time against a fresh `ssc ingest npm` of the changed registry (the full
re-crawl), plus whether both graphs export the same thing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakeregistry.npm import NpmApp, synthetic_name  # noqa: E402
from tests.fakeregistry.server import FakeRegistry  # noqa: E402

FEED_PAGE = 10_000


def ssc(env: dict[str, str], *args: str) -> tuple[Any, float]:
    """Run the real command; returns its JSON summary (or stdout lines) and wall time."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "ssc_cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"ssc {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}"
        )
    out = json.loads(result.stdout) if "--json" in args else result.stdout.splitlines()
    return out, elapsed


def change(app: NpmApp, n_packages: int, share: float, offset: int = 1) -> list[str]:
    """Change share of the packages: a third get a new version, a third a deprecation, a third
    a new version with a new dependency."""
    count = max(1, round(n_packages * share))
    step = n_packages // count
    changed = []
    for k in range(count):
        index = k * step + offset
        name = synthetic_name(index)
        if k % 3 == 0:
            app.publish(name, "1.9.0", dependencies={synthetic_name(0): "^1.0.0"})
        elif k % 3 == 1:
            app.deprecate(name, "1.0.0", "use 1.9")
        else:
            app.publish(name, "2.0.0", dependencies={synthetic_name(index - 1): "1.x"})
        changed.append(name)
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packages", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=0.01, help="share of packages changed")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="per-request server delay")
    args = parser.parse_args()

    build = time.perf_counter()
    app = NpmApp.synthetic(args.packages)
    build = time.perf_counter() - build
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeRegistry(latency=args.latency_ms / 1000) as server,
    ):
        npm_url, replicate_url = app.mount(server)
        base = {k: v for k, v in os.environ.items() if not k.startswith("SSC_")}
        env = {
            **base,
            "PYTHONPATH": str(REPO),
            "SSC_DATA_DIR": f"{tmp}/data",
            "SSC_CACHE_DIR": f"{tmp}/cache",
            "SSC_GRAPH_URI": f"sqlite:///{tmp}/graph.sqlite",
            "SSC_HTTP_RATE_LIMIT": "off",
            "SSC_NPM_URL": npm_url,
            "SSC_NPM_REPLICATE_URL": replicate_url,
        }
        fresh_env = {
            **env,
            "SSC_GRAPH_URI": f"sqlite:///{tmp}/fresh.sqlite",
            "SSC_DATA_DIR": f"{tmp}/data-fresh",
            "SSC_CACHE_DIR": f"{tmp}/cache-fresh",  # a cold cache: a real re-crawl
        }

        ingest, ingest_time = ssc(env, "ingest", "npm", "--json")
        changed = change(app, args.packages, args.changed)
        server.clear_log()
        update, update_time = ssc(env, "update", "npm", "--json")
        update_log = server.requests()
        rerun, rerun_time = ssc(env, "update", "npm", "--json")
        recrawl, recrawl_time = ssc(fresh_env, "ingest", "npm", "--json")
        exported, _ = ssc(env, "graph", "export", "--ecosystem", "npm")
        fresh_exported, _ = ssc(fresh_env, "graph", "export", "--ecosystem", "npm")
        # A replica rebuild: sequences restart below the stored cursor, then 1% more changes.
        app.reset_feed()
        changed_after_reset = change(app, args.packages, args.changed, offset=2)
        rows_after_reset = len(app.feed)
        server.clear_log()
        reset, reset_time = ssc(env, "update", "npm", "--json")
        reset_feed_requests = len(server.requests(r"^/npm-replicate"))

    feed_requests = sum(1 for _, path, _ in update_log if path.startswith("/npm-replicate"))
    # the replica's root, then one page per 10,000 rows (the last one short)
    feed_bound = 1 + math.ceil((len(changed) + 1) / FEED_PAGE)
    bound = feed_bound + 2 * len(changed)
    reset_bound = 1 + rows_after_reset // FEED_PAGE + 1 + 2 * len(changed_after_reset)
    figures = {
        "packages_stored": ingest["new_packages_ingested"],
        "packages_changed": len(changed),
        "synthetic_build_s": round(build, 2),
        "ingest_s": round(ingest_time, 2),
        "ingest_requests": ingest["requests"],
        "update_s": round(update_time, 2),
        "update_requests": update["requests"],
        "update_feed_requests": feed_requests,
        "update_request_bound": bound,
        "update_packages_refetched": update["packages_processed"],
        "rerun_s": round(rerun_time, 2),
        "rerun_requests": rerun["requests"],
        "recrawl_s": round(recrawl_time, 2),
        "recrawl_requests": recrawl["requests"],
        "update_to_recrawl_time_ratio": round(update_time / recrawl_time, 4),
        "update_to_recrawl_request_ratio": round(update["requests"] / recrawl["requests"], 4),
        "export_equals_fresh_ingest": exported == fresh_exported,
        "reset_update_s": round(reset_time, 2),
        "reset_update_requests": reset["requests"],
        "reset_update_feed_requests": reset_feed_requests,
        "reset_update_request_bound": reset_bound,
        "reset_update_packages_refetched": reset["packages_processed"],
        "reset_to_recrawl_time_ratio": round(reset_time / recrawl_time, 4),
    }
    print(f"npm update vs full re-crawl, {args.packages} packages, {args.changed:.0%} changed\n")
    print("| figure | value |")
    print("|---|---:|")
    for key, value in figures.items():
        print(f"| {key} | {value} |")
    print()
    ok = (
        update["requests"] <= bound
        and update_time < recrawl_time / 10
        and figures["export_equals_fresh_ingest"]
        and update["packages_processed"] == len(changed)
        and reset["requests"] <= reset_bound
        and reset["packages_processed"] == len(changed_after_reset)
    )
    print(
        f"verdict: **{'PASS' if ok else 'FAIL'}** (update requests <= feed requests + 2 per changed "
        "package, update time < 1/10 of the re-crawl, exports equal)"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
