"""ssc as PID 1, as the image's exec-form ENTRYPOINT runs it: SIGTERM still stops drain-queue.

The kernel drops a signal sent to PID 1 unless that process installed a handler for it, so this
is what `docker stop` and a pod's termination rely on. A new PID namespace (util-linux
`unshare`, root as in CI) makes ssc PID 1 without a container runtime."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.conftest import Ssc
from tests.queue.conftest import redis_client, redis_server  # noqa: F401 (fixtures)

STREAM = "package-extraction"


def _child(pid: int) -> int | None:
    """The one child of the unshare process: ssc, PID 1 inside the namespace."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    text = children.read_text().split() if children.exists() else []
    return int(text[0]) if text else None


def _namespace_pid(pid: int) -> int:
    """The process's pid inside its own PID namespace (the last NSpid field)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    raise AssertionError(f"no NSpid for {pid}")


def test_drain_queue_as_pid_1_stops_on_sigterm(
    ssc: Ssc,
    redis_server: str,  # noqa: F811
    redis_client: redis.Redis,  # noqa: F811
) -> None:
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs as root with util-linux: unshare --pid must work")
        pytest.skip("needs root and util-linux unshare for a PID namespace")
    env = ssc.environment({"SSC_REDIS_URL": redis_server, "SSC_QUEUE_BLOCK_MS": "60000"})
    worker = subprocess.Popen(
        [unshare, "--pid", "--fork", "--kill-child", sys.executable, "-m", "ssc_cli",
         "drain-queue", "--json"],
        cwd=ssc.home, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:  # waiting in XREADGROUP BLOCK, under its consumer name
            assert worker.poll() is None, worker.communicate()
            assert time.monotonic() < deadline, "drain-queue never joined the group"
            try:
                if redis_client.xinfo_consumers(STREAM, "extractors"):
                    break
            except redis.ResponseError:
                pass  # the group does not exist yet
            time.sleep(0.05)
        ssc_pid = _child(worker.pid)
        assert ssc_pid is not None
        assert _namespace_pid(ssc_pid) == 1
        os.kill(ssc_pid, signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0, err
    assert json.loads(out)["stopped"] == "signal"
