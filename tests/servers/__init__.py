"""Real servers for the test session: Neo4j 5 (Neo4j's test harness) and a MongoDB-protocol server.

Both are small Java launchers built with Maven from the pom.xml beside this file (neo4j/, mongo/);
each binds a free loopback port, prints its URI on the first line of stdout, and stops on stdin
EOF or SIGTERM, so a test process that dies takes its servers with it. Builds are cached under
$SSC_TEST_SERVERS_CACHE (default ~/.cache/ssc-test-servers), keyed by the hash of the launcher's
sources; Maven's own downloads stay in ~/.m2.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = ("neo4j", "mongo")
_JAVA_OPTS = {
    # C1 only and a serial GC: the harness starts in about half the time on two cores.
    "neo4j": ["-Xms256m", "-Xmx1g", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"],
    "mongo": ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"],
}


class ServerUnavailable(RuntimeError):
    """A test server could not be built or started (the message says why)."""


def cache_dir() -> Path:
    return Path(os.environ.get("SSC_TEST_SERVERS_CACHE") or Path.home() / ".cache/ssc-test-servers")


def missing_tools() -> list[str]:
    """The tools a build or start needs that are not on PATH."""
    return [tool for tool in ("java", "mvn") if shutil.which(tool) is None]


def _source_hash(kind: str) -> str:
    digest = hashlib.sha256()
    for path in sorted((HERE / kind).rglob("*")):
        if path.is_file() and "target" not in path.relative_to(HERE / kind).parts:
            digest.update(path.relative_to(HERE).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(kind: str) -> Path:
    """The built launcher of kind (classes/ and lib/), built once per source hash."""
    if missing := missing_tools():
        raise ServerUnavailable(
            f"cannot build the {kind} test server: {', '.join(missing)} not on PATH"
        )
    target = cache_dir() / f"{kind}-{_source_hash(kind)}"
    if (target / "ok").exists():
        return target
    with _locked(cache_dir() / f"{kind}.lock"):  # xdist workers build it once between them
        if (target / "ok").exists():
            return target
        shutil.rmtree(target, ignore_errors=True)
        command = [
            "mvn", "-B", "-q", "-f", str(HERE / kind / "pom.xml"),
            f"-Dssc.build.dir={target}", "-DskipTests", "package",
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        if done.returncode != 0:
            raise ServerUnavailable(
                f"building the {kind} test server failed ({' '.join(command)}):\n"
                f"{(done.stdout + done.stderr)[-3000:]}"
            )
        (target / "ok").write_text("built\n")
    return target


@dataclass
class Server:
    """One running launcher: its URI and its process (and the thread draining its stderr)."""

    kind: str
    uri: str
    process: subprocess.Popen[str]
    drain: threading.Thread | None = None

    def stop(self) -> None:
        """EOF on stdin, then SIGTERM, then SIGKILL: never left behind."""
        if self.process.poll() is not None:
            self._close()
            return
        try:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close()

    def kill(self) -> None:
        """SIGKILL: the server dies as a crashed one would."""
        self.process.kill()
        self.process.wait()
        self._close()

    def _close(self) -> None:
        """The pipes of a dead process, once the drain has read its stderr to the end."""
        if self.drain is not None:
            self.drain.join(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(OSError):  # stdin of a dead process, unflushed
                    pipe.close()


def start(
    kind: str,
    timeout: float = 180.0,
    *,
    home: Path | None = None,
    java_opts: Sequence[str] | None = None,
) -> Server:
    """Build (if needed) and start a launcher; return once its URI is printed.

    home (Neo4j only): keep the store in that directory, reusing what a previous server left
    there, so a test can kill the server and start another on the same data. java_opts replace
    the light JVM options the test fixtures use (a benchmark's own).
    """
    built = build(kind)
    classpath = f"{built / 'classes'}:{built / 'lib'}/*"
    args = [] if home is None else ["--home", str(home)]
    opts = _JAVA_OPTS[kind] if java_opts is None else list(java_opts)
    process = subprocess.Popen(
        ["java", *opts, "-cp", classpath, "ssc.Launcher", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    line = first[0].strip() if first else ""
    if "=" not in line:
        process.kill()
        _, err = process.communicate()
        raise ServerUnavailable(
            f"the {kind} test server did not start within {timeout:.0f} s: {line!r}\n{err[-3000:]}"
        )
    # Drain stderr so a chatty server never blocks on a full pipe.
    drain = threading.Thread(target=process.stderr.read, daemon=True)  # type: ignore[union-attr]
    drain.start()
    return Server(kind, line.split("=", 1)[1], process, drain)


def wait_for_neo4j(uri: str, timeout: float = 60.0) -> None:
    """Until the default database answers a query (it starts after the Bolt port opens)."""
    import neo4j

    deadline = time.monotonic() + timeout
    with neo4j.GraphDatabase.driver(uri, auth=("neo4j", "")) as driver:
        while True:
            try:
                driver.execute_query("RETURN 1")
                return
            except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def wait_for_mongo(uri: str, timeout: float = 30.0) -> None:
    import pymongo

    client: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(
        uri, serverSelectionTimeoutMS=int(timeout * 1000)
    )
    try:
        client.admin.command("ping")
    finally:
        client.close()
