"""RubyGems update benchmark (issue 3): the daily update costs what changed, not what is stored.

    python benchmarks/bench_rubygems_update.py [--gems 10000] [--changed-pct 1] [--latency-ms 5]

One session: a fake rubygems.org (threads of this process, fixed latency per request) holding
N synthetic gems; `ssc ingest rubygems` stores them all (a full crawl); then 1% of the gems
change (new versions, yanks, new platform builds, plus a few brand-new gems that are ingest's
job, not the update's) and `ssc update rubygems` runs; then `ssc update rubygems --full`
re-crawls every stored gem for comparison. Each ssc run is its own process, as under cron.
Printed: wall time and requests of each, the update/full ratios, and the request budget check
(feed requests + a small constant per changed gem). Rate limits are lifted.
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
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakeregistry import rubygems  # noqa: E402
from tests.fakeregistry.rubygems import FakeGemVersion, RubyGemsApp  # noqa: E402
from tests.fakeregistry.server import FakeRegistry  # noqa: E402

# Requests one changed gem may cost: /info, /api/v1/versions, the newest .gem, and the gem
# page when the newest version's metadata names no repository.
PER_GEM_BUDGET = 4


def run_ssc(env: dict[str, str], *args: str) -> tuple[dict[str, Any], float]:
    """One `ssc ...` in a child process: its --json summary and wall time."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "ssc_cli", *args, "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"ssc {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return json.loads(result.stdout), wall


def change_registry(app: RubyGemsApp, gems: int, pct: float) -> tuple[set[str], int]:
    """Change pct% of the stored gems; return their names and how many new gems appeared."""
    count = max(1, round(gems * pct / 100))
    step = max(1, gems // count)
    changed: set[str] = set()
    for k, i in enumerate(range(0, gems, step)):
        if len(changed) >= count:
            break
        name = rubygems.synthetic_name(i)
        versions = app.gems[name].versions
        if k % 5 == 3 and len(versions) > 1:
            app.yank(name, versions[0].number)
        elif k % 5 == 4:
            app.publish(name, FakeGemVersion(versions[-1].number, platform="java"))
        else:
            app.publish(
                name,
                FakeGemVersion(
                    f"9.{k}.0",
                    dependencies=[(rubygems.synthetic_name((i + 1) % gems), "~> 1.0")],
                    metadata={"source_code_uri": f"https://github.com/owner/{name}"},
                    files=[f"lib/{name}.rb"],
                ),
            )
        changed.add(name)
    new_gems = 5
    for j in range(new_gems):
        app.publish(f"newgem{j}", FakeGemVersion("0.1.0"))
    return changed, new_gems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--gems", type=int, default=10_000)
    parser.add_argument("--changed-pct", type=float, default=1.0)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--import-names", choices=("on", "off"), default="on")
    args = parser.parse_args()

    built = time.monotonic()
    app = rubygems.synthetic(args.gems)
    print(f"synthetic registry: {args.gems} gems in {time.monotonic() - built:.1f}s", flush=True)
    server = FakeRegistry(latency=args.latency_ms / 1000).start()
    server.mount("rubygems", app)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SSC_")}
        env.update(
            {
                "PYTHONPATH": str(REPO),
                "SSC_DATA_DIR": str(home / "data"),
                "SSC_CACHE_DIR": str(home / "cache"),
                "SSC_GRAPH_URI": f"sqlite:///{home / 'graph.sqlite'}",
                "SSC_HTTP_RATE_LIMIT": "off",
                "SSC_RUBYGEMS_URL": server.url("rubygems"),
                "SSC_IMPORT_NAMES": "true" if args.import_names == "on" else "false",
            }
        )
        ingest, ingest_s = run_ssc(env, "ingest", "rubygems")
        assert ingest["new_packages_ingested"] == args.gems, ingest
        changed, new_gems = change_registry(app, args.gems, args.changed_pct)

        server.clear_log()
        update, update_s = run_ssc(env, "update", "rubygems")
        log = server.requests(r"^/rubygems/")
        feed = sum(1 for _, path, _ in log if path == "/rubygems/versions")
        per_gem = len(log) - feed
        server.clear_log()
        full, full_s = run_ssc(env, "update", "rubygems", "--full")
        full_requests = len(server.requests(r"^/rubygems/"))
    server.stop()

    budget = feed + PER_GEM_BUDGET * len(changed)
    report = {
        "gems_stored": args.gems,
        "gems_changed": len(changed),
        "new_gems_not_updated": new_gems,
        "latency_ms": args.latency_ms,
        "import_names": args.import_names,
        "full_crawl_ingest": {"seconds": round(ingest_s, 2), "requests": ingest["requests"]},
        "update": {
            "seconds": round(update_s, 2),
            "requests": len(log),
            "feed_requests": feed,
            "per_gem_requests": per_gem,
            "requests_per_changed_gem": round(per_gem / max(1, len(changed)), 2),
            "packages_processed": update["packages_processed"],
        },
        "full_recrawl_update_full": {"seconds": round(full_s, 2), "requests": full_requests},
        "ratio_update_vs_ingest_time": round(update_s / ingest_s, 4),
        "ratio_update_vs_full_recrawl_time": round(update_s / full_s, 4),
        "ratio_update_vs_full_recrawl_requests": round(len(log) / max(1, full_requests), 4),
        "request_budget": budget,
    }
    print(json.dumps(report, indent=2))
    ok_requests = len(log) <= budget
    ok_time = update_s < full_s / 10 and update_s < ingest_s / 10
    ok_processed = update["packages_processed"] == len(changed)
    print(
        f"requests within feed + {PER_GEM_BUDGET}/changed gem ({len(log)} <= {budget}): "
        f"{'PASS' if ok_requests else 'FAIL'}"
    )
    print(
        f"update < 1/10 of a full re-crawl ({update_s:.2f}s vs {full_s:.2f}s --full, "
        f"{ingest_s:.2f}s ingest): {'PASS' if ok_time else 'FAIL'}"
    )
    print(
        f"exactly the changed gems refetched ({update['packages_processed']}/{len(changed)}): "
        f"{'PASS' if ok_processed else 'FAIL'}"
    )
    sys.exit(0 if ok_requests and ok_time and ok_processed else 1)


if __name__ == "__main__":
    main()
