"""Private redis-server processes for the queue tests and benchmarks (never the shared one on 6379)."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(binary: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str] | None:
    """A redis-server without persistence on a free port, or None when the port was taken
    meanwhile (xdist workers pick ports at the same time) or it did not come up."""
    port = free_port()
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
                    stop(proc)
                    return None
                time.sleep(0.05)
    finally:
        client.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM: a redis-server with an append-only file fsyncs it before it exits."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class RestartableRedis:
    """A redis-server of one test's own, on one port, that can be stopped and started again.

    Persistence is an append-only file: what was on the stream (entries, the group, its pending
    entries and delivery counts) survives a restart, as with a real deployment. appendfsync
    "always" also survives a crash of Redis; "everysec" (Redis' default policy) a clean restart.
    """

    def __init__(self, workdir: Path, *, appendfsync: str = "always") -> None:
        binary = shutil.which("redis-server")
        assert binary is not None  # the redis_server fixture already failed or skipped otherwise
        self.binary, self.workdir, self.port = binary, workdir, free_port()
        self.appendfsync = appendfsync
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "yes", "--appendfsync", self.appendfsync]
            + ["--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 30
        try:
            while True:
                try:
                    client.ping()
                    return
                except (redis.ConnectionError, redis.BusyLoadingError):
                    assert self.proc.poll() is None and time.monotonic() < deadline
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


def extracted_count(graph_uri: str) -> int:
    """Packages the SQLite graph holds as extracted (0 while it does not exist yet)."""
    try:
        with closing(sqlite3.connect(graph_uri.removeprefix("sqlite:///"))) as db:
            row = db.execute("SELECT count(*) FROM packages WHERE status = 'extracted'").fetchone()
            return int(row[0])
    except sqlite3.Error:
        return 0
