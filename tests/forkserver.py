"""A fork server for the `ssc` runner: each command still runs in a process of its own, forked
from one that has already imported ssc_cli and its libraries, instead of a new interpreter paying
the imports again (about 0.5 s of the suite's 700-odd runs each).

What a forked child gets is what `subprocess.run([python, "-m", "ssc_cli", ...])` gives: its own
pid, the requested environment, working directory, stdin from /dev/null, stdout and stderr into
files the caller reads, signals at their defaults, and its exit status as `subprocess` reports it
(negative for a signal). It runs `ssc_cli`'s `__main__` as `python -m` does, and exits through
the interpreter's normal shutdown (atexit handlers, non-daemon threads joined, buffers flushed).
What it shares with its siblings is only what importing set up: modules and their import-time
state, and the hash seed (`random` is reseeded in every child by Python itself).

Tests that are about a fresh interpreter (which modules start-up imports, start-up time, the
installed wheel, PID 1, signals to a running job) start their own process and do not come here.
`SSC_TEST_FORKSERVER=0` sends every run through a new interpreter instead.

Protocol on a Unix socket, one connection per run: the client sends one byte with three file
descriptors (stdin, stdout, stderr) attached, then a length-prefixed JSON request {argv, cwd,
env}; the server answers a line with the child's pid and, when the child has ended, a line with
its exit status.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import locale
import os
import pkgutil
import runpy
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

_LENGTH = struct.Struct("!I")


def _preload() -> None:
    """Import every module of ssc_cli (and so every library it uses), however lazily it imports."""
    import ssc_cli

    for module in pkgutil.walk_packages(ssc_cli.__path__, "ssc_cli."):
        if module.name.endswith(".__main__"):
            continue
        with contextlib.suppress(ImportError):  # an optional extra a run would not find either
            importlib.import_module(module.name)


def _read_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError("the client went away")
        data += chunk
    return data


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(1)  # byte by byte: the status line may follow the pid line at once
        if not chunk:
            raise EOFError("the ssc fork server went away")
        data += chunk
    return data


def _serve(path: str) -> dict[str, Any]:
    """Accept runs until stdin closes; returns only in a forked child, with its request."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    running: dict[int, socket.socket] = {}
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        readable, _, _ = select.select([listener, wake_r, sys.stdin], [], [], 1.0)
        if wake_r in readable:
            os.read(wake_r, 4096)
        while running:  # reap whoever ended, whatever woke us
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            conn = running.pop(pid)
            with contextlib.suppress(OSError):
                conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
            conn.close()
        if sys.stdin in readable and not sys.stdin.buffer.read1(1):
            return {}  # the test session ended
        if listener not in readable:
            continue
        conn, _ = listener.accept()
        _, fds, _, _ = socket.recv_fds(conn, 1, 3)
        (size,) = _LENGTH.unpack(_read_exact(conn, _LENGTH.size))
        request = json.loads(_read_exact(conn, size))
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (wake_r, wake_w):
                os.close(fd)
            listener.close()
            conn.close()
            for closing in running.values():
                closing.close()
            for target, fd in enumerate(fds):
                os.dup2(fd, target)
                os.close(fd)
            return dict(request)
        for fd in fds:
            os.close(fd)
        conn.sendall(f"{pid}\n".encode())
        running[pid] = conn


def _run_child(request: dict[str, Any]) -> None:
    """In the child: become `python -m ssc_cli ARGS` in the requested place and environment."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = request["cwd"]  # what `python -m` puts first
    sys.argv = ["-m", *request["argv"]]
    runpy.run_module("ssc_cli", run_name="__main__", alter_sys=True)


@dataclass
class ForkServer:
    """The client side: starts the server on first use and runs commands through it."""

    env: dict[str, str]
    cwd: Path
    _process: subprocess.Popen[bytes] | None = None
    _socket: str = ""

    def start(self) -> None:
        folder = tempfile.mkdtemp(prefix="ssc-forkserver-")
        self._socket = str(Path(folder) / "socket")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.forkserver", self._socket],
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if line != b"ready\n":
            raise RuntimeError(f"the ssc fork server did not start: {line!r}")

    def stop(self) -> None:
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    def run(
        self,
        argv: list[str],
        cwd: Path,
        env: dict[str, str],
        timeout: float,
        on_start: Callable[[int], object] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run `ssc ARGV` in a forked child; `on_start` gets its pid (tests of this module)."""
        if self._process is None or self._process.poll() is not None:
            self.start()
        with (
            tempfile.TemporaryFile() as out,
            tempfile.TemporaryFile() as err,
            open(os.devnull, "rb") as null,
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn,
        ):
            conn.connect(self._socket)
            socket.send_fds(conn, [b"r"], [null.fileno(), out.fileno(), err.fileno()])
            body = json.dumps({"argv": argv, "cwd": str(cwd), "env": env}).encode()
            conn.sendall(_LENGTH.pack(len(body)) + body)
            pid = int(_read_line(conn))
            if on_start is not None:
                on_start(pid)
            conn.settimeout(timeout)
            started = time.monotonic()
            try:
                status = _read_line(conn)
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                conn.settimeout(None)
                _read_line(conn)
                raise subprocess.TimeoutExpired(argv, time.monotonic() - started) from None
            return subprocess.CompletedProcess(
                [sys.executable, "-m", "ssc_cli", *argv], int(status), _text(out), _text(err)
            )


def _text(file: IO[bytes]) -> str:
    """What `subprocess.run(..., text=True)` would have decoded (locale encoding, universal newlines)."""
    file.seek(0)
    text = file.read().decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


if __name__ == "__main__":
    _preload()
    gc.collect()
    gc.freeze()  # keep the imported objects' pages shared with every child
    job = _serve(sys.argv[1])
    if job:
        _run_child(job)
