"""drain-queue off a terminal: progress lines on stderr (messages processed, errors), no total
(issue 8)."""

from __future__ import annotations

import redis

from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry
from tests.test_progress import parse

STREAM = "package-extraction"


def test_drain_prints_progress_lines_counting_messages_and_rejects(
    qssc: Ssc, fake_registry: FakeRegistry, redis_client: redis.Redis
) -> None:
    fake_registry.mount("pypi", pypi.synthetic(10, versions=1, deps=0))
    qssc("enqueue", "pypi", "pkg-00001")  # creates the group; the bad entry comes next
    redis_client.xadd(STREAM, {"data": "{not json"})
    qssc("enqueue", "pypi", *[f"pkg-{i:05d}" for i in range(2, 8)])
    fake_registry.latency = 0.5  # seven fetches one batch at a time: several seconds
    result = qssc(
        "drain-queue",
        "--until-empty",
        "--no-follow-deps",
        "--batch",
        "1",
        expect=0,
        env={"SSC_PROGRESS_INTERVAL": "1"},
    )
    lines = parse(result.stderr)
    assert len(lines) >= 2, result.stderr
    assert {what for what, _ in lines} == {"drain-queue"}
    assert all("total" not in fields and "eta" not in fields for _, fields in lines)
    done = [int(fields["done"]) for _, fields in lines]
    assert done == sorted(done) and 0 < done[-1] <= 8
    # The unparseable entry (the second one read) is dead-lettered and counted as an error.
    assert lines[-1][1]["errors"] == "1"
    assert result.stderr.splitlines()[-1].startswith("drain-queue: 8 processed")


def test_drain_quiet_prints_no_progress_line(
    qssc: Ssc, fake_registry: FakeRegistry, redis_client: redis.Redis
) -> None:
    fake_registry.mount("pypi", pypi.synthetic(5, versions=1, deps=0))
    qssc("enqueue", "pypi", "pkg-00001", "pkg-00002", "pkg-00003")
    fake_registry.latency = 0.5
    result = qssc(
        "-q",
        "drain-queue",
        "--until-empty",
        "--no-follow-deps",
        "--batch",
        "1",
        env={"SSC_PROGRESS_INTERVAL": "1"},
    )
    assert "progress" not in result.stderr
