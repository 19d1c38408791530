"""Ingest benchmark (issue 2): default concurrency vs --concurrency 1, and SQLite write rate.

    python benchmarks/bench_pypi_ingest.py [--projects 2000] [--latency-ms 20]

The fake registry runs in its own process (so it does not share the client's GIL) with a fixed
latency per request; both ingests run in the same session against the same registry, and the
ratio of their wall times is the figure that matters. Rate limits are lifted (SSC_HTTP_RATE_LIMIT=off).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import own_peak  # noqa: E402

from ssc_cli.graph.sqlite import SqliteStore  # noqa: E402
from ssc_cli.models import Ecosystem, PackageRecord, Requirement, VersionRecord  # noqa: E402
from tests.fakeregistry.cli import read_settings  # noqa: E402


def run_ingest(env: dict[str, str], *args: str) -> dict[str, float]:
    """One `ssc ingest pypi` in a child process: wall time, CPU time, peak RSS."""
    started = time.monotonic()
    fd, name = tempfile.mkstemp(prefix="ssc-peak-rss-")
    os.close(fd)
    peak_file = Path(name)
    child = subprocess.Popen(
        own_peak.command(peak_file, "ingest", "pypi", *args),
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    if status != 0:
        raise SystemExit(
            f"ingest failed ({status}): {child.stderr.read().decode() if child.stderr else ''}"
        )
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": own_peak.read_mb(peak_file),  # its own pages (own_peak.py), not wait4's
    }


def sqlite_write_rate(packages: int = 2000, versions: int = 25, deps: int = 3) -> dict[str, float]:
    """Versions written per second by SqliteStore.write_packages in batches of 100 packages."""
    eco = Ecosystem.PYPI
    records = [
        PackageRecord(
            ecosystem=eco,
            name=f"pkg-{p:05d}",
            versions=[
                VersionRecord(
                    name=f"{v}.0.{p % 7}",
                    release_date="2024-01-01T00:00:00Z",
                    requirements=[
                        Requirement(
                            name=f"pkg-{(p + d + 1) % packages:05d}",
                            constraints=f">={v}",
                            raw_constraints=f">={v}",
                        )
                        for d in range(deps)
                    ],
                )
                for v in range(versions)
            ],
            repository_url=f"https://github.com/o/pkg-{p}",
            vendor="o",
            import_names=[f"pkg_{p}"],
            token=str(p),
        )
        for p in range(packages)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "bench.sqlite")
        store.migrate()
        started, cpu_started = time.perf_counter(), time.process_time()
        for i in range(0, len(records), 100):
            store.write_packages(records[i : i + 100])
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        store.close()
    total = packages * versions
    return {
        "versions": total,
        "edges": total * deps,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "versions_per_s": total / elapsed,
        "versions_per_cpu_s": total / cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=2)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakeregistry",
            "--ecosystems",
            "pypi",
            "--packages",
            str(args.projects),
            "--versions",
            str(args.versions),
            "--latency-ms",
            str(args.latency_ms),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    url = read_settings(server.stdout)["SSC_PYPI_URL"]
    results = {}
    try:
        for label, extra in (
            ("default concurrency", []),
            ("--concurrency 1", ["--concurrency", "1"]),
        ):
            with tempfile.TemporaryDirectory() as tmp:
                env = {
                    k: v for k, v in os.environ.items() if not k.startswith(("SSC_", "GRAPH_DB_"))
                }
                env.update(
                    {
                        "PYTHONPATH": str(REPO),
                        "SSC_PYPI_URL": url,
                        "SSC_HTTP_RATE_LIMIT": "off",
                        "SSC_DATA_DIR": f"{tmp}/data",
                        "SSC_CACHE_DIR": f"{tmp}/cache",
                        "SSC_GRAPH_URI": f"sqlite:///{tmp}/graph.sqlite",
                    }
                )
                results[label] = run_ingest(env, *extra)
    finally:
        server.terminate()
        server.wait()

    versions = args.projects * args.versions
    print(
        f"## PyPI ingest: {args.projects} projects, {versions} versions, {args.latency_ms:g} ms per request\n"
    )
    print("| run | wall (s) | CPU (s) | CPU per version (ms) | peak RSS (MB) |")
    print("|---|---:|---:|---:|---:|")
    for label, r in results.items():
        print(
            f"| {label} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {1000 * r['cpu_s'] / versions:.2f} | {r['peak_rss_mb']:.0f} |"
        )
    ratio = results["--concurrency 1"]["wall_s"] / results["default concurrency"]["wall_s"]
    print(f"\nspeed-up of the default over --concurrency 1: **{ratio:.1f}x** (target >= 8x)\n")
    rate = sqlite_write_rate()
    print(
        f"## SQLite writes\n\n{rate['versions']:,} versions and {rate['edges']:,} edges in "
        f"{rate['seconds']:.2f} s wall, {rate['cpu_seconds']:.2f} s CPU: "
        f"**{rate['versions_per_s']:,.0f} versions/s** wall, "
        f"{rate['versions_per_cpu_s']:,.0f} versions per CPU-second (target >= 20,000)"
    )


if __name__ == "__main__":
    main()
