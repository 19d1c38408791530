"""The full fault soak (issue 15, item 1): every ecosystem, 2,000 packages, under the issue's mix.

For each ecosystem a synthetic registry (tests/reliability/worlds.py) is ingested fault-free into
one graph, then with the seeded mix of `Faults.soak` (10 % 429 with Retry-After, 5 % 500, 1 %
each connection reset and timeout, 0.5 % each truncated and garbled body) into another, twice,
as cron would run it (tests/reliability/soak.py, the scenario of tests/reliability/test_soak.py).
Prints per ecosystem: packages extracted fault-free and after the faulted runs, whether the
exports are identical, packages lost after the first run (neither extracted nor recorded with a
reason), the failures it recorded, retries spent (the runs' summaries: the HTTP layer's retries;
a body that arrives whole but garbled is fetched again by the Maven and crates clients
themselves, for POMs, jars and .crate files, which the summary does not count, so the request
columns carry every extra request), faults drawn (the fake registry's count) and the wall times;
exits 1 if anything was lost or diverged.

Run: flock /tmp/ssc-heavy.lock python benchmarks/bench_soak.py [--packages N]
     [--ecosystems pypi,npm,...] [--seed N] [--retry-after S] [--versions N] [--retries N]
The rate limit is off and the backoff short (0.01-0.2 s) as in the tests; Retry-After is the
fake's (0 s by default: the 429 carries the header, ssc then falls back to its backoff).
--retries sets SSC_HTTP_RETRIES (ssc's default, 5, when not given): with 1, some packages run
out of tries in the first run, are recorded as failures, and the second run must fetch them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import conftest  # noqa: E402
from tests.conftest import Ssc  # noqa: E402
from tests.fakeregistry import cli  # noqa: E402
from tests.fakeregistry.server import FakeRegistry, Faults  # noqa: E402
from tests.reliability import worlds  # noqa: E402
from tests.reliability.soak import SoakResult, soak  # noqa: E402


def runner(home: Path, server: FakeRegistry, retries: int | None) -> Ssc:
    """ssc pointed at every ecosystem of server, with the test suite's HTTP settings."""
    env = cli.settings(server, worlds.ECOSYSTEMS, Faults())
    env.update(
        {
            "SSC_DATA_DIR": str(home / "data"),
            "SSC_CACHE_DIR": str(home / "cache"),
            "SSC_GRAPH_URI": f"sqlite:///{home / 'graph.sqlite'}",
            "SSC_HTTP_BACKOFF_BASE": "0.01",
            "SSC_HTTP_BACKOFF_MAX": "0.2",
            "SSC_USER_AGENT": "ssc-bench/0 (+benchmarks/bench_soak.py)",
        }
    )
    if retries is not None:
        env["SSC_HTTP_RETRIES"] = str(retries)
    return Ssc(home, env)


def one(ecosystem: str, args: argparse.Namespace) -> SoakResult:
    server = FakeRegistry(keep_log=False).start()
    try:
        worlds.mount(server, ecosystem, args.packages, versions=args.versions, seed=args.seed)
        with tempfile.TemporaryDirectory(prefix=f"soak-{ecosystem}-") as tmp:
            faults = Faults.soak(args.seed, retry_after=args.retry_after, timeout_seconds=1.5)
            return soak(
                server,
                runner(Path(tmp), server, args.retries),
                ecosystem,
                seed=args.seed,
                faults=faults,
            )
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packages", type=int, default=2_000)
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--ecosystems", default=",".join(worlds.ECOSYSTEMS))
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--retry-after", type=int, default=0)
    parser.add_argument("--retries", type=int, default=None, help="SSC_HTTP_RETRIES (5)")
    args, _ignored = parser.parse_known_args()  # `nox -s bench -- …` passes its args to all
    ecosystems = [e.strip() for e in args.ecosystems.split(",") if e.strip()]
    print(
        f"fault soak: {args.packages:,} packages per ecosystem, {args.versions} versions each, "
        f"seed {args.seed}, Retry-After {args.retry_after} s, SSC_HTTP_RETRIES "
        f"{args.retries if args.retries is not None else '5 (default)'}, "
        f"{os.cpu_count()} CPUs (shared)\n",
        flush=True,
    )
    results: list[SoakResult] = []
    try:
        for ecosystem in ecosystems:
            started = time.monotonic()
            result = one(ecosystem, args)
            results.append(result)
            print(
                f"{ecosystem}: done in {time.monotonic() - started:.0f} s (faults {result.faults})",
                file=sys.stderr,
                flush=True,
            )
    finally:
        if conftest._FORK_SERVER is not None:
            conftest._FORK_SERVER.stop()
    print(
        "| ecosystem | packages (fault-free) | identical after run 2 | lost after run 1 "
        "| failures recorded, run 1 / run 2 | differing, not recorded | retries (runs 1+2) "
        "| faults drawn | requests fault-free "
        "| requests faulted (1+2) | wall fault-free (s) | wall faulted run 1 / run 2 (s) "
        "| faulted / fault-free |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    problems: list[str] = []
    for r in results:
        runs = " / ".join(f"{s:.1f}" for s in r.faulted_seconds)
        # A package the last run failed again is recorded with its reason: the next run's work.
        unexplained = sorted(r.differing - r.failed_last)
        print(
            f"| {r.ecosystem} | {r.packages:,} | {'yes' if r.identical else 'NO'} | {r.lost_first} "
            f"| {r.failed_first} / {len(r.failed_last)} | {len(unexplained)} | {r.retries:,} "
            f"| {sum(r.faults.values()):,} "
            f"| {r.clean_requests:,} | {r.requests:,} | {r.clean_seconds:.1f} | {runs} "
            f"| {r.faulted_seconds[0] / r.clean_seconds:.2f} |"
        )
        if r.packages < args.packages:
            problems.append(f"{r.ecosystem}: only {r.packages} extracted fault-free")
        if r.lost_first:
            problems.append(f"{r.ecosystem}: {r.lost_first} lost after run 1")
        if unexplained or (not r.identical and args.retries is None):
            problems.append(
                f"{r.ecosystem}: differs in {unexplained or sorted(r.differing)}\n"
                + "\n".join(r.differences)
            )
    print("\nfaults drawn, by kind:")
    for r in results:
        print(f"- {r.ecosystem}: " + ", ".join(f"{k} {v:,}" for k, v in sorted(r.faults.items())))
    if problems:
        print("\nPROBLEMS:\n" + "\n".join(problems))
        raise SystemExit(1)
    print(
        "\nnothing lost; after the second run every faulted graph equals its fault-free run, "
        "but for the packages that run recorded as failed (none with the default retries)"
    )


if __name__ == "__main__":
    main()
