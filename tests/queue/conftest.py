"""A real redis-server for the queue tests: one per session on a free loopback port, flushed per test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import Ssc


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_redis(binary: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    """A redis-server on a free port, or None when the port was taken meanwhile (xdist workers
    pick ports at the same time) or it did not come up."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return proc, url
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    _stop(proc)
                    return None
                time.sleep(0.05)
    finally:
        client.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """redis://127.0.0.1:<port>/0 of a private server (never the shared one on 6379); one per
    pytest-xdist worker, since each worker is its own session."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed; CI must run the queue tests")
        pytest.skip("redis-server is not installed")
    workdir: Path = tmp_path_factory.mktemp("redis")
    for _attempt in range(5):
        started = _start_redis(binary, workdir)
        if started is not None:
            break
    else:
        pytest.fail("redis-server did not start on a free loopback port (5 attempts)")
    proc, url = started
    try:
        yield url
    finally:
        _stop(proc)


@pytest.fixture
def redis_client(redis_server: str) -> Iterator[redis.Redis]:
    """A client on a freshly flushed database."""
    client = redis.Redis.from_url(redis_server, decode_responses=True)
    client.flushall()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def qssc(ssc: Ssc, redis_client: redis.Redis, redis_server: str) -> Ssc:
    """The ssc runner pointed at the test Redis, with test-speed queue timings."""
    ssc.env.update(
        {
            "SSC_REDIS_URL": redis_server,
            # Heart-beats come every third of it: a worker stalled for a second by a loaded
            # machine still keeps its batch (no test may hang on a margin under 1 s).
            "SSC_QUEUE_CLAIM_IDLE_MS": "1500",
            "SSC_QUEUE_BLOCK_MS": "100",
            "SSC_HTTP_RETRIES": "1",
        }
    )
    return ssc
