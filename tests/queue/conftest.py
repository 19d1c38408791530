"""A real redis-server for the queue tests: one per session on a free loopback port, flushed per test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import Ssc
from tests.queue.redis_server import start_redis, stop


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
        started = start_redis(binary, workdir)
        if started is not None:
            break
    else:
        pytest.fail("redis-server did not start on a free loopback port (5 attempts)")
    proc, url = started
    try:
        yield url
    finally:
        stop(proc)


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
