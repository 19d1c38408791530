"""Run `ssc` with a fault planted at an exact point of the SQLite graph store (tests only).

`python -m tests.reliability.faultpoints ARGS...` runs `python -m ssc_cli ARGS...` after patching
the store as SSC_TEST_FAULT says (ssc itself has no fault hooks):

- `write:N` SIGKILLs the process inside its N-th `write_packages` transaction, after every
  statement of it ran and before its COMMIT;
- `written:N` SIGKILLs it right after its N-th `write_packages` call returned (committed);
- `cursor:N` SIGKILLs it right after its N-th cursor save returned (committed);
- `ack:N` SIGKILLs it right after its N-th XACK of the extraction stream returned (drain-queue:
  the stream's consumer group is its cursor);
- `pages:N` caps the graph file at its size plus N pages (`PRAGMA max_page_count`), so a write
  that needs more fails as on a full disk (SQLITE_FULL, "database or disk is full");
- `none` plants nothing (a run to trace, or to kill from outside at a random moment).

With SSC_TEST_TRACE=PATH every event is appended to PATH as it happens, one line each: `write+`
when a `write_packages` call starts, `write-` when it returned (committed), `cursor` after a cursor
save, `ack` after an XACK. The last line before a SIGKILL says where it landed
(tests/reliability/crash.py::landed).
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from ssc_cli.graph.interface import WriteStats
from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, PackageRecord
from ssc_cli.queue.stream import ExtractionStream


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _tracer(path: str | None) -> Callable[[str], None]:
    """Append one event line to path (O_APPEND, unbuffered: a SIGKILL loses none of them)."""
    if not path:
        return lambda event: None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def trace(event: str) -> None:
        os.write(fd, f"{event}\n".encode())

    return trace


def _plant(kind: str, n: int, trace: Callable[[str], None]) -> None:
    count = {"write": 0, "written": 0, "cursor": 0, "ack": 0}
    inside = {"write": False}
    transaction = SqliteStore._transaction
    write_packages = SqliteStore.write_packages
    set_cursor = SqliteStore.set_cursor
    migrate = SqliteStore.migrate
    ack = ExtractionStream.ack

    @contextmanager
    def planted_transaction(self: SqliteStore) -> Iterator[Any]:
        with transaction(self) as db:
            yield db
            if kind == "write" and inside["write"]:
                count["write"] += 1
                if count["write"] == n:
                    _die()

    def planted_write(self: SqliteStore, records: Sequence[PackageRecord]) -> WriteStats:
        inside["write"] = True
        trace("write+")
        try:
            stats = write_packages(self, records)
        finally:
            inside["write"] = False
        trace("write-")
        count["written"] += 1
        if kind == "written" and count["written"] == n:
            _die()
        return stats

    def planted_cursor(
        self: SqliteStore, ecosystem: Ecosystem, key: str, value: Mapping[str, Any]
    ) -> None:
        set_cursor(self, ecosystem, key, value)
        trace("cursor")
        count["cursor"] += 1
        if kind == "cursor" and count["cursor"] == n:
            _die()

    async def planted_ack(self: ExtractionStream, ids: Sequence[str]) -> None:
        await ack(self, ids)
        if not ids:
            return  # nothing was sent to Redis
        trace("ack")
        count["ack"] += 1
        if kind == "ack" and count["ack"] == n:
            _die()

    def planted_migrate(self: SqliteStore) -> None:
        migrate(self)
        pages = int(self._db.execute("PRAGMA page_count").fetchone()[0])
        self._db.execute(f"PRAGMA max_page_count = {pages + n}")

    def as_transaction(self: SqliteStore) -> AbstractContextManager[Any]:
        return planted_transaction(self)

    SqliteStore._transaction = as_transaction  # type: ignore[method-assign]
    SqliteStore.write_packages = planted_write  # type: ignore[method-assign]
    SqliteStore.set_cursor = planted_cursor  # type: ignore[method-assign]
    ExtractionStream.ack = planted_ack  # type: ignore[method-assign]
    if kind == "pages":
        SqliteStore.migrate = planted_migrate  # type: ignore[method-assign]


def main() -> None:
    kind, _, n = os.environ.get("SSC_TEST_FAULT", ":").partition(":")
    if kind not in {"write", "written", "cursor", "ack", "pages", "none"}:
        raise SystemExit(
            "SSC_TEST_FAULT must be write:N, written:N, cursor:N, ack:N, pages:N or none, "
            f"not {kind!r}"
        )
    _plant(kind, int(n or 0), _tracer(os.environ.get("SSC_TEST_TRACE")))
    sys.argv = ["ssc", *sys.argv[1:]]
    runpy.run_module("ssc_cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
