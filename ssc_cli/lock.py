"""One lock per job so overlapping cron runs cannot interleave (securechain-compat.md §6-26).

`job_lock` is the one place that picks the mechanism: a file lock in the data directory always,
and, when the graph is Neo4j, also a lease in the graph itself, since pods with separate data
directories share that graph (issue 9 item 6). Both refuse with LockHeld (exit 75).
"""

from __future__ import annotations

import fcntl
import logging
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ssc_cli.errors import ConfigError, GraphUnavailable, LockHeld

if TYPE_CHECKING:  # the driver loads only for a Neo4j graph (tests/test_startup_imports.py)
    from ssc_cli.graph.neo4j import Neo4jStore
    from ssc_cli.pipeline.stop import Stop
    from ssc_cli.settings import Settings

log = logging.getLogger(__name__)


def _command(job: str) -> str:
    return f"ssc {job.replace('-', ' ')}"


@contextmanager
def job_lock(settings: Settings, job: str, stop: Stop | None = None) -> Iterator[None]:
    """Hold the job's lock for the block: LockHeld (exit 75) when another run holds it.

    stop: asked to stop (reason `lease-lost`, exit 75) if the graph lease is lost mid-run.
    """
    with file_lock(settings.data_dir, job):
        if settings.graph_target.startswith("sqlite:"):
            # The graph is a file in one data directory: the file lock covers every writer.
            yield
            return
        with graph_lease(settings, job, stop):
            yield


@contextmanager
def file_lock(directory: Path, job: str) -> Iterator[None]:
    """Hold an exclusive, non-blocking flock on <directory>/locks/<job>.lock; LockHeld if taken.

    The kernel drops the lock when the process dies, so a SIGKILLed run never leaves it stuck.
    """
    locks = directory / "locks"
    try:
        locks.mkdir(parents=True, exist_ok=True)
        handle = (locks / f"{job}.lock").open("a+")
    except OSError as exc:
        raise ConfigError(
            f"cannot create the lock file in {locks}: {exc}; check SSC_DATA_DIR"
        ) from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(
                f"another `{_command(job)}` is running (lock {locks / (job + '.lock')}); "
                "this run wrote nothing"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def lease_holder() -> str:
    """host (the pod name in Kubernetes) / pid / a random token, unique to this lock."""
    return f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"


@contextmanager
def graph_lease(settings: Settings, job: str, stop: Stop | None = None) -> Iterator[None]:
    """Hold the job's `SscJobLease` in the Neo4j graph, renewed every SSC_LOCK_TTL / 3 seconds.

    A holder that dies without releasing (SIGKILL, a lost node) leaves a lease that simply
    expires SSC_LOCK_TTL seconds after its last renewal.
    """
    from ssc_cli.graph import open_store
    from ssc_cli.graph.neo4j import Neo4jStore

    store = open_store(settings)
    assert isinstance(store, Neo4jStore), "graph_lease is for a Neo4j graph"
    try:
        lease = GraphLease(store, job, lease_holder(), settings.lock_ttl, stop)
        lease.acquire()
        try:
            yield
        finally:
            lease.release()
    finally:
        store.close()


class GraphLease:
    """One job's lease: acquire, a daemon thread renewing it, release if still ours."""

    def __init__(
        self, store: Neo4jStore, job: str, holder: str, ttl: float, stop: Stop | None
    ) -> None:
        self.store, self.job, self.holder, self.ttl, self.stop = store, job, holder, ttl, stop
        self.lost = False
        self._done = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self) -> None:
        self.store.ensure_lease_schema()
        state = self.store.acquire_lease(self.job, self.holder, self.ttl)
        if not state.held:
            raise LockHeld(
                f"another `{_command(self.job)}` holds the job lease in the graph at "
                f"{self.store.uri} (holder {state.holder}, expires {state.expires_at}, in "
                f"{state.remaining}s unless renewed); this run wrote nothing"
            )
        log.debug("job lease %s taken by %s until %s", self.job, self.holder, state.expires_at)
        self._renewer = threading.Thread(
            target=self._renew_until_done, name=f"lease-{self.job}", daemon=True
        )
        self._renewer.start()

    def _renew_until_done(self) -> None:
        while not self._done.wait(self.ttl / 3):
            try:
                state = self.store.renew_lease(self.job, self.holder, self.ttl)
            except GraphUnavailable as exc:
                log.warning("could not renew the job lease %s (retrying): %s", self.job, exc)
                continue
            if not state.held:
                self._lose(state.holder)
                return

    def _lose(self, holder: str | None) -> None:
        self.lost = True
        taken = f"taken by {holder}" if holder else "gone"
        then = (
            "another run may be writing the same data"
            if self.stop is None
            else "stopping after the batch in hand so two runs do not write at once"
        )
        log.error(
            "the job lease of `%s` in the graph at %s is %s (this run was paused past its "
            "expiry): %s",
            _command(self.job),
            self.store.uri,
            taken,
            then,
        )
        if self.stop is not None:
            from ssc_cli.pipeline.stop import LEASE_LOST

            self.stop.request(LEASE_LOST)

    def release(self) -> None:
        """Stop renewing; delete the lease if it is still ours (otherwise it is someone else's)."""
        self._done.set()
        if self._renewer is not None:
            self._renewer.join()
        if self.lost:
            return
        try:
            self.store.release_lease(self.job, self.holder)
        except GraphUnavailable as exc:
            log.warning(
                "could not release the job lease %s; it expires within %gs: %s",
                self.job,
                self.ttl,
                exc,
            )
