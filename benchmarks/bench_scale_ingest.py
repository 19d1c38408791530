"""Scale (issue 16): bulk ingest against realistic registries with latency 50-100 ms.

    python benchmarks/bench_scale_ingest.py politeness [--ecosystems pypi,npm,maven] [--seconds 150]
    python benchmarks/bench_scale_ingest.py growth --ecosystem npm --sizes 10000,30000,100000
    python benchmarks/bench_scale_ingest.py cpu --ecosystem npm --limit 1500 [--in-flight 48]

politeness: a 100,000-package registry, each registry's default rate and in-flight limits on;
`ssc ingest <eco> --limit L` with L sized to run about --seconds; the achieved request rate is
measured at the fake registry between the first and the last per-package request (the
listing excluded) and compared with the configured budget; CPU per version is the child's CPU
time over the versions it wrote.

growth: a full ingest (no --limit) of registries of each size, rate limits lifted
(SSC_HTTP_RATE_LIMIT=off) but latency on; --concurrency and the host's in-flight cap raised to
--in-flight so that a run is CPU-bound instead of lasting hours. Reports peak RSS, CPU per
version, SQLite bytes per version and per edge, and the HTTP cache on disk. --keep DIR keeps
the largest size's graph for bench_scale_update.py.

cpu: `ssc ingest <eco> --limit L` against a --packages universe, latency on, rate limits lifted,
at --in-flight (or the registry's default cap with --in-flight 0), --repeat times; CPU per
version is the child's CPU (its start and the listing included) over the versions it wrote. Run
it from two trees (a `git worktree` of main beside the branch) alternately to compare.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from scale_common import BUDGETS, CAP_SETTING, graph_bytes, graph_counts, run_ssc, serve, ssc_env

# Requests per package, roughly, to size --limit for a window (PyPI: one per version).
_PER_PACKAGE = {"pypi": 9.0, "npm": 2.0, "maven": 10.0}
_LISTING_KINDS = {"listing", "changes", "index"}


def politeness(ecosystems: list[str], seconds: float, n: int) -> None:
    print(f"## Politeness: {n:,} packages, latency 50-100 ms, default limits on\n")
    print(
        "| registry | budget (req/s, in flight) | packages | requests | window (s) "
        "| achieved req/s | of budget | CPU per version (ms) | CPU per request (ms) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for eco in ecosystems:
        rate, cap = BUDGETS[eco]
        limit = max(10, int(rate * seconds / _PER_PACKAGE[eco]))
        served = serve(eco, n)
        served.app.stamps = []
        work = Path(tempfile.mkdtemp(prefix=f"scale-{eco}-"))
        try:
            result = run_ssc(ssc_env(work, served), "ingest", eco, "--limit", str(limit))
        finally:
            served.stop()
            shutil.rmtree(work, ignore_errors=True)
        stamps = [t for t, kind in served.app.stamps if kind not in _LISTING_KINDS]
        window = stamps[-1] - stamps[0]
        achieved = (len(stamps) - 1) / window
        versions = max(1, result["new_versions"])
        print(
            f"| {eco} | {rate:g}, {cap} | {result['new_packages_ingested']} | {result['requests']} "
            f"| {window:.0f} | {achieved:.2f} | {100 * achieved / rate:.1f} % "
            f"| {1000 * result['_cpu_s'] / versions:.2f} "
            f"| {1000 * result['_cpu_s'] / result['requests']:.2f} |"
        )


def growth(
    eco: str, sizes: list[int], in_flight: int, keep: Path | None, cache_mb: int | None = None
) -> None:
    cache = f", SSC_SQLITE_CACHE_MB={cache_mb}" if cache_mb is not None else ""
    print(
        f"## Growth: {eco}, full ingest, rate limits lifted, latency 50-100 ms, "
        f"{in_flight} in flight{cache}\n"
    )
    print(
        "| packages | versions | edges | requests | wall (s) | CPU (s) | CPU per version (ms) "
        "| peak RSS (MB) | SQLite bytes/version | bytes/edge | graph MB | HTTP cache MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        served = serve(eco, n)
        work = Path(tempfile.mkdtemp(prefix=f"scale-{eco}-{n}-"))
        extra = {CAP_SETTING[eco]: str(in_flight)}
        if cache_mb is not None:
            extra["SSC_SQLITE_CACHE_MB"] = str(cache_mb)
        env = ssc_env(work, served, SSC_HTTP_RATE_LIMIT="off", **extra)
        started = time.monotonic()
        try:
            result = run_ssc(env, "ingest", eco, "--concurrency", str(in_flight))
        finally:
            served.stop()
        counts = graph_counts(work)
        sizes_on_disk = graph_bytes(work)
        versions = max(1, result["new_versions"])
        print(
            f"| {n:,} | {counts['versions']:,} | {counts['requires']:,} | {result['requests']:,} "
            f"| {time.monotonic() - started:.0f} | {result['_cpu_s']:.0f} "
            f"| {1000 * result['_cpu_s'] / versions:.2f} | {result['_rss_mb']:.0f} "
            f"| {counts['bytes_per_version']:.0f} | {counts['bytes_per_edge']:.0f} "
            f"| {sizes_on_disk['graph'] / 1e6:.0f} | {sizes_on_disk['cache'] / 1e6:.0f} |",
            flush=True,
        )
        if keep is not None and n == sizes[-1]:
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(work, keep)
        shutil.rmtree(work, ignore_errors=True)


def cpu(eco: str, n: int, limit: int, in_flight: int, repeat: int) -> None:
    cap = in_flight or BUDGETS[eco][1]
    print(f"## CPU per version: {eco}, --limit {limit} of {n:,}, {cap} in flight, latency on\n")
    print("| run | packages | versions | requests | CPU (s) | CPU per version (ms) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for run in range(1, repeat + 1):
        served = serve(eco, n)
        work = Path(tempfile.mkdtemp(prefix=f"scale-cpu-{eco}-"))
        extra = {CAP_SETTING[eco]: str(in_flight)} if in_flight else {}
        args = ["--concurrency", str(in_flight)] if in_flight else []
        try:
            env = ssc_env(work, served, SSC_HTTP_RATE_LIMIT="off", **extra)
            result = run_ssc(env, "ingest", eco, "--limit", str(limit), *args)
        finally:
            served.stop()
            shutil.rmtree(work, ignore_errors=True)
        versions = max(1, result["new_versions"])
        print(
            f"| {run} | {result['new_packages_ingested']} | {versions:,} | {result['requests']:,} "
            f"| {result['_cpu_s']:.2f} | {1000 * result['_cpu_s'] / versions:.2f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="mode", required=True)
    polite = sub.add_parser("politeness")
    polite.add_argument("--ecosystems", default="pypi,npm,maven")
    polite.add_argument("--seconds", type=float, default=150.0)
    polite.add_argument("--packages", type=int, default=100_000)
    grow = sub.add_parser("growth")
    grow.add_argument("--ecosystem", default="npm")
    grow.add_argument("--sizes", default="10000,30000,100000")
    grow.add_argument("--in-flight", type=int, default=48)
    grow.add_argument("--keep", type=Path)
    grow.add_argument("--sqlite-cache-mb", type=int, help="SSC_SQLITE_CACHE_MB for the runs")
    per = sub.add_parser("cpu")
    per.add_argument("--ecosystem", default="npm")
    per.add_argument("--packages", type=int, default=10_000)
    per.add_argument("--limit", type=int, default=1500)
    per.add_argument("--in-flight", type=int, default=48, help="0: the registry's default cap")
    per.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if args.mode == "cpu":
        cpu(args.ecosystem, args.packages, args.limit, args.in_flight, args.repeat)
    elif args.mode == "politeness":
        politeness(args.ecosystems.split(","), args.seconds, args.packages)
    else:
        sizes = [int(s) for s in args.sizes.split(",")]
        growth(args.ecosystem, sizes, args.in_flight, args.keep, args.sqlite_cache_mb)


if __name__ == "__main__":
    main()
