"""Secrets never leak (issue 15 item 6): with a password in every credential setting and `-v`,
every command, on its success and its failure paths, keeps it out of stdout, stderr, the graph,
the data and cache dirs, the metrics files and the Redis streams."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry, Faults

SECRET = "s3kr1t-Zq7vXw"
USER = "ssc-secrets-test"


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def secret_redis(redis_client: redis.Redis, redis_server: str) -> Iterator[str]:
    """The test Redis with an ACL user whose password is the secret (the default user is left
    as it is, so the other tests on this server are unaffected)."""
    redis_client.acl_setuser(
        USER, enabled=True, passwords=[f"+{SECRET}"], keys=["*"], channels=["*"], commands=["+@all"]
    )
    host_port = redis_server.removeprefix("redis://").split("/")[0]
    try:
        yield f"redis://{USER}:{SECRET}@{host_port}/0"
    finally:
        redis_client.acl_deluser(USER)


@pytest.fixture
def sssc(ssc: Ssc, fake_registry: FakeRegistry, secret_redis: str, tmp_path: Path) -> Ssc:
    fake_registry.mount("pypi", pypi.synthetic(12, versions=2, deps=1))
    # One broken package: its failure reason (with its URL) is recorded and dead-lettered.
    fake_registry.faults = Faults(always={r"^/pypi/pypi/pkg-00003/": 500})
    registry = fake_registry.url("pypi").replace("http://", f"http://reader:{SECRET}@")
    ssc.env.update(
        {
            "SSC_PYPI_URL": registry,
            "SSC_REDIS_URL": secret_redis,
            "SSC_GRAPH_USER": "neo4j",
            "SSC_GRAPH_PASSWORD": SECRET,
            "SSC_VULN_DB_PASSWORD": SECRET,
            "SSC_METRICS_DIR": str(tmp_path / "metrics"),
            "SSC_HTTP_RETRIES": "1",
            "SSC_QUEUE_CLAIM_IDLE_MS": "1500",
            "SSC_QUEUE_BLOCK_MS": "100",
            "SSC_QUEUE_MAX_ATTEMPTS": "1",  # the broken package is dead-lettered at once
            "SSC_QUEUE_RECONNECT_SECONDS": "1",
        }
    )
    return ssc


def _assert_clean(where: str, text: str | bytes) -> None:
    needle = SECRET.encode() if isinstance(text, bytes) else SECRET
    assert needle not in text, f"the secret leaked into {where}"


@pytest.mark.slow
def test_no_command_leaks_a_password(sssc: Ssc, tmp_path: Path, redis_client: redis.Redis) -> None:
    closed = _closed_port()
    mongo = {
        "SSC_VULN_DB_URI": f"mongodb://reader:{SECRET}@127.0.0.1:{closed}/?serverSelectionTimeoutMS=300"
    }
    runs = [
        (("ingest", "pypi", "--limit", "6"), None, None),  # one package fails: exit 1
        (("update", "pypi"), None, None),
        (("graph", "show", "pypi", "pkg-00001"), None, None),
        (("enqueue", "pypi", "pkg-00002", "pkg-00003"), None, None),
        (("drain-queue", "--until-empty", "--no-follow-deps"), None, None),
        (("queue", "stats"), None, None),
        (("doctor",), None, mongo),  # MongoDB unreachable: a failure path
        (("check",), None, None),
        (("status",), None, None),
        (("vulns", "sync"), None, None),
        (("vulns", "attribute", "pypi"), 5, mongo),
        # Failure paths: the graph, Redis and the registry unreachable, with credentials in them.
        (
            ("ingest", "pypi", "--limit", "2"),
            5,
            {"SSC_GRAPH_URI": f"bolt://neo4j:{SECRET}@127.0.0.1:{closed}"},
        ),
        (
            ("drain-queue", "--until-empty"),
            5,
            {"SSC_REDIS_URL": f"redis://{USER}:{SECRET}@127.0.0.1:{closed}/0"},
        ),
        (
            ("drain-queue", "--until-empty"),
            None,
            {"SSC_REDIS_URL": f"redis://{USER}:wrong-{SECRET}@127.0.0.1:{closed}/0"},
        ),
        (
            ("update", "pypi"),
            4,
            {"SSC_PYPI_URL": f"http://reader:{SECRET}@127.0.0.1:{closed}/pypi"},
        ),
    ]
    codes = []
    for args, expect, env in runs:
        # Every command with --json (summary on stdout, logs on stderr); the failure paths also
        # without it, since their human error line is written differently.
        for flags in (("-v", "--json"), ("-v",)) if expect else (("-v", "--json"),):
            result = sssc(*flags, *args, expect=expect, env=env)
            codes.append(result.returncode)
            _assert_clean(f"stdout of ssc {' '.join(args)}", result.stdout)
            _assert_clean(f"stderr of ssc {' '.join(args)}", result.stderr)
    assert 1 in codes and 0 in codes  # both the success and the failure paths ran
    for path in sorted(p for p in tmp_path.rglob("*") if p.is_file()):
        _assert_clean(str(path.relative_to(tmp_path)), path.read_bytes())
    assert list((tmp_path / "metrics").glob("*.prom")), "no metrics files were written"
    assert redis_client.xlen("package-extraction-dlq") >= 1  # the broken package's dead letter
    for key in redis_client.scan_iter():
        kind = redis_client.type(key)
        if kind == "stream":
            for _id, fields in redis_client.xrange(key):
                _assert_clean(f"Redis stream {key}", repr(fields))
        elif kind == "string":
            _assert_clean(f"Redis key {key}", str(redis_client.get(key)))
        elif kind == "hash":
            _assert_clean(f"Redis hash {key}", repr(redis_client.hgetall(key)))
