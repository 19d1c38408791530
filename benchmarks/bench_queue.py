"""drain-queue throughput with 1 and with 4 workers against the fake PyPI (20 ms latency, no rate limits).

Run: python benchmarks/bench_queue.py [--messages N] [--latency S] [--batch N] [--concurrency N]
Needs redis-server on PATH; starts its own on a free loopback port (never the one on 6379).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakeregistry import pypi  # noqa: E402
from tests.fakeregistry.server import FakeRegistry  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(workers: int, args: argparse.Namespace, env: dict[str, str], work: Path) -> float:
    """Messages per second of `workers` drain-queue processes emptying a stream of args.messages."""
    client = redis.Redis.from_url(env["SSC_REDIS_URL"])
    client.flushall()
    graph = work / f"graph-{workers}.sqlite"
    env = {
        **env,
        "SSC_GRAPH_URI": f"sqlite:///{graph}",
        "SSC_DATA_DIR": str(work / f"data-{workers}"),
        "SSC_CACHE_DIR": str(work / f"cache-{workers}"),  # no run answers from another's cache
    }
    names = work / "names.txt"
    names.write_text("".join(f"pkg-{i:05d}\n" for i in range(args.messages)))
    cmd = [sys.executable, "-m", "ssc_cli"]
    subprocess.run(
        [*cmd, "enqueue", "pypi", "--file", str(names)], env=env, check=True, capture_output=True
    )
    drain = [*cmd, "drain-queue", "--until-empty", "--no-follow-deps", "--batch", str(args.batch)]
    started = time.monotonic()
    procs = [subprocess.Popen(drain, env=env, stdout=subprocess.DEVNULL) for _ in range(workers)]
    for proc in procs:
        if proc.wait() != 0:
            raise SystemExit(f"a worker exited {proc.returncode}")
    elapsed = time.monotonic() - started
    pending = client.xinfo_groups("package-extraction")[0]["pending"]
    client.close()
    assert pending == 0, "entries left pending"
    return args.messages / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.020)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument(
        "--concurrency", type=int, default=2, help="PyPI requests in flight per worker"
    )
    args, _ignored = (
        parser.parse_known_args()
    )  # `nox -s bench -- …` passes its args to every script
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found on PATH")
    port = _free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    registry = FakeRegistry(latency=args.latency).start()
    registry.mount("pypi", pypi.synthetic(args.messages, versions=3, deps=2))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("SSC_", "REDIS_"))}
            env.update(
                {
                    "PYTHONPATH": str(REPO),
                    "SSC_HTTP_RATE_LIMIT": "off",
                    "SSC_PYPI_URL": registry.url("pypi"),
                    "SSC_PYPI_CONCURRENCY": str(args.concurrency),
                    "SSC_REDIS_URL": f"redis://127.0.0.1:{port}/0",
                    "SSC_QUEUE_BLOCK_MS": "100",
                }
            )
            time.sleep(0.3)
            one = _run(1, args, env, work)
            four = _run(4, args, env, work)
    finally:
        registry.stop()
        server.terminate()
        server.wait()
    print(
        f"drain-queue, {args.messages} messages, {args.latency * 1000:.0f} ms latency, "
        f"batch {args.batch}, {args.concurrency} PyPI requests in flight per worker, "
        f"{os.cpu_count()} CPUs\n"
    )
    print("| workers | messages/s |")
    print("|---|---|")
    print(f"| 1 | {one:.1f} |")
    print(f"| 4 | {four:.1f} |")
    print(f"\n4 workers / 1 worker: {four / one:.2f}x")


if __name__ == "__main__":
    main()
