"""Opening local SQLite files that several ssc processes may open at the same moment."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_WAL_ATTEMPTS = 50


def open_read_only(path: Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """A read-only connection to an existing file (mode=ro: never creates nor writes it)."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    return sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False)


def open_wal(
    path: Path, *, timeout: float = 30.0, check_same_thread: bool = True
) -> sqlite3.Connection:
    """A connection in WAL mode, autocommit, with a busy timeout.

    Switching to WAL takes an exclusive lock and SQLite does not run the busy handler for it, so
    two processes opening a new file together (`ingest` and `update` of one ecosystem hold
    different job locks) can see "database is locked" at once: retry that briefly.
    """
    db = sqlite3.connect(
        str(path), timeout=timeout, isolation_level=None, check_same_thread=check_same_thread
    )
    for attempt in range(_WAL_ATTEMPTS):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == _WAL_ATTEMPTS - 1:
                db.close()
                raise
            time.sleep(0.05 * (attempt + 1))
    db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return db


@contextmanager
def write_transaction(
    db: sqlite3.Connection, fail: Callable[[str, sqlite3.Error], Exception]
) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT on an autocommit connection, rolled back on any error.

    A failed BEGIN, statement or COMMIT (disk full, I/O error, lock timeout) must neither leave
    the connection inside a transaction nor escape as a raw sqlite3 error: it is raised as
    fail("begin" | "write", exc), the caller's own SscError.
    """
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise fail("begin", exc) from exc
    try:
        yield db
        db.execute("COMMIT")
    except sqlite3.Error as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise fail("write", exc) from exc
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
