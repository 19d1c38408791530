"""Run `ssc` with a fault planted at an exact point of the SQLite graph store (tests only).

`python -m tests.reliability.faultpoints ARGS...` runs `python -m ssc_cli ARGS...` after patching
the store as SSC_TEST_FAULT says (ssc itself has no fault hooks):

- `write:N` SIGKILLs the process inside its N-th `write_packages` transaction, after every
  statement of it ran and before its COMMIT;
- `cursor:N` SIGKILLs it right after its N-th cursor save returned (committed);
- `pages:N` caps the graph file at its size plus N pages (`PRAGMA max_page_count`), so a write
  that needs more fails as on a full disk (SQLITE_FULL, "database or disk is full").
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from ssc_cli.graph.interface import WriteStats
from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, PackageRecord


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _plant(kind: str, n: int) -> None:
    count = {"write": 0, "cursor": 0}
    inside = {"write": False}
    transaction = SqliteStore._transaction
    write_packages = SqliteStore.write_packages
    set_cursor = SqliteStore.set_cursor
    migrate = SqliteStore.migrate

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
        try:
            return write_packages(self, records)
        finally:
            inside["write"] = False

    def planted_cursor(
        self: SqliteStore, ecosystem: Ecosystem, key: str, value: Mapping[str, Any]
    ) -> None:
        set_cursor(self, ecosystem, key, value)
        count["cursor"] += 1
        if kind == "cursor" and count["cursor"] == n:
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
    if kind == "pages":
        SqliteStore.migrate = planted_migrate  # type: ignore[method-assign]


def main() -> None:
    kind, _, n = os.environ.get("SSC_TEST_FAULT", ":").partition(":")
    if kind not in {"write", "cursor", "pages"}:
        raise SystemExit(f"SSC_TEST_FAULT must be write:N, cursor:N or pages:N, not {kind!r}")
    _plant(kind, int(n))
    sys.argv = ["ssc", *sys.argv[1:]]
    runpy.run_module("ssc_cli", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
