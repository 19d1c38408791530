"""The queue under load (issue 15, item 7): 8 drain-queue workers, 20,000 messages added by one
producer while they drain, two workers SIGKILLed and Redis restarted once midway, at seeded moments.

Every message must be settled exactly once in effect: its package extracted once, or exactly one
dead letter (invalid messages at once, packages their registry refuses after 3 deliveries);
nothing lost, nothing doubled. Prints messages/s, reclaimed entries and the duplicate deliveries
whose effect was prevented (the surviving workers' summaries), then exits 1 on any problem.

Run: flock /tmp/ssc-heavy.lock python benchmarks/bench_queue_load.py [--messages N] [--workers N]
     [--seed N] [--batch N] [--claim-idle-ms MS] [--latency S]
Needs redis-server on PATH; starts its own (append-only file, appendfsync everysec) on a free
loopback port, never the one on 6379. The scenario is tests/queue/load.py, as for the small
version in tests/queue/test_load.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import Ssc  # noqa: E402
from tests.fakeregistry import pypi  # noqa: E402
from tests.fakeregistry.server import FakeRegistry, Faults  # noqa: E402
from tests.queue.load import REFUSED, LoadPlan, ok_count, run_load  # noqa: E402
from tests.queue.redis_server import RestartableRedis  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--claim-idle-ms", type=int, default=5_000)
    parser.add_argument("--latency", type=float, default=0.005, help="fake PyPI, per request")
    args, _ignored = parser.parse_known_args()  # `nox -s bench -- …` passes its args to all
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server not found on PATH")
    plan = LoadPlan(
        messages=args.messages,
        workers=args.workers,
        seed=args.seed,
        batch=args.batch,
        claim_idle_ms=args.claim_idle_ms,
        backlog=1_000,
        chunk=100,
        deadline=3_600,
    )
    registry = FakeRegistry(latency=args.latency).start()
    registry.mount(
        "pypi", pypi.synthetic(ok_count(plan), versions=plan.versions, deps=1, wheels=False)
    )
    registry.faults = Faults(always={REFUSED: 403})
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = RestartableRedis(work / "redis", appendfsync="everysec")
        server.start()
        ssc = Ssc(
            work,
            {
                "SSC_DATA_DIR": str(work / "data"),
                "SSC_CACHE_DIR": str(work / "cache"),
                "SSC_GRAPH_URI": f"sqlite:///{work / 'graph.sqlite'}",
                "SSC_HTTP_RATE_LIMIT": "off",
                "SSC_HTTP_RETRIES": "1",
                "SSC_PYPI_URL": registry.url("pypi"),
            },
        )
        try:
            report = run_load(plan, ssc, server, work / "load", say=lambda line: print(line))
        finally:
            server.stop()
            registry.stop()
    figures = report.figures()
    print(
        f"\ndrain-queue under load: {plan.messages} messages, {plan.workers} workers, batch "
        f"{plan.batch}, claim idle {plan.claim_idle_ms} ms, fake PyPI {args.latency * 1000:.0f} ms, "
        f"seed {plan.seed}, {os.cpu_count()} CPUs (shared)\n"
    )
    print("| figure | value |")
    print("|---|---|")
    for key, value in figures.items():
        if key != "events":
            print(f"| {key} | {json.dumps(value) if isinstance(value, dict) else value} |")
    print("\n" + "\n".join(f"- {event}" for event in figures["events"]))
    if report.problems:
        print("\nPROBLEMS:\n" + "\n".join(report.problems))
        raise SystemExit(1)
    print("\nevery message settled exactly once in effect: none lost, none doubled")


if __name__ == "__main__":
    main()
