"""Scale (issue 16): planning over npm's size of listing without holding every name.

    python benchmarks/bench_scale_listing.py [--names 3000000]

A fake npm replica whose `_changes` feed lists --names packages (pages of 10,000 rows, the
real API's largest) and a real redis-server on a free loopback port. `ssc ingest npm
--enqueue` is the planning step of a scaled-out bulk load: it reads the whole listing, drops
what the graph holds and queues the rest for `drain-queue` workers. The figure is the peak
RSS of that child (target <= 300 MB); no latency, no rate limit, so the run is CPU-bound.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from scale_common import run_ssc, serve, ssc_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--names", type=int, default=3_000_000)
    args = parser.parse_args()
    started = time.monotonic()
    served = serve("npm", args.names, latency=(0.0, 0.0))
    print(f"(universe of {args.names:,} names built in {time.monotonic() - started:.0f} s)")
    port = _free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    work = Path(tempfile.mkdtemp(prefix="scale-listing-"))
    try:
        time.sleep(0.5)
        env = ssc_env(
            work,
            served,
            SSC_HTTP_RATE_LIMIT="off",
            SSC_REDIS_HOST="127.0.0.1",
            SSC_REDIS_PORT=str(port),
        )
        result = run_ssc(env, "ingest", "npm", "--enqueue")
    finally:
        served.stop()
        redis.terminate()
        redis.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"## Planning over {args.names:,} npm names (`ssc ingest npm --enqueue`)\n")
    print("| names listed | queued | feed requests | wall (s) | CPU (s) | peak RSS (MB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {result['total_in_registry']:,} | {result['enqueued']:,} "
        f"| {served.app.counts['changes']} | {result['_wall_s']:.0f} | {result['_cpu_s']:.0f} "
        f"| {result['_rss_mb']:.0f} |"
    )


if __name__ == "__main__":
    main()
