"""SQLite side of the queue's parent links: RequirementFile / Version parents named by row id."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from ssc_cli.graph.interface import QUEUE_EDGE_KEY, ParentLink, now_iso
from ssc_cli.graph.sqlite_reads import chunks, reading
from ssc_cli.models import Ecosystem

# Parent ids: a version is its row id ("42"); a requirement file, whose ids are another
# sequence, is "rf:<row id>" so the two never collide.
_FILE_PREFIX = "rf:"


class _Store(Protocol):
    path: Path
    _db: sqlite3.Connection

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...


class SqliteParentLinks:
    """The parent-link methods of SqliteStore (mixed in; it provides _db and _transaction)."""

    def add_requirement_file(self: _Store, name: str, manager: str | None = None) -> str:
        with self._transaction() as db:
            cur = db.execute(
                "INSERT INTO requirement_files (name, manager, moment) VALUES (?,?,?)",
                (name, manager, now_iso()),
            )
            return f"{_FILE_PREFIX}{cur.lastrowid}"

    @reading
    def version_ids(self: _Store, ecosystem: Ecosystem, purls: Iterable[str]) -> dict[str, str]:
        result: dict[str, str] = {}
        for chunk in chunks(list(purls)):
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(
                f"SELECT purl, id FROM versions WHERE purl IN ({marks})", chunk
            ):
                result[row[0]] = str(row[1])
        return result

    def link_parents(self: _Store, ecosystem: Ecosystem, links: Sequence[ParentLink]) -> list[str]:
        unknown: list[str] = []
        if not links:
            return unknown
        with self._transaction() as db:
            for link in links:
                target = ecosystem.purl(link.package)
                file_id = _file_id(link.parent_id)
                if file_id is not None:
                    if not db.execute(
                        "SELECT 1 FROM requirement_files WHERE id = ?", (file_id,)
                    ).fetchone():
                        unknown.append(link.parent_id)
                        continue
                    _pending_target(db, ecosystem, target, link.package)
                    db.execute(
                        """INSERT INTO requirement_file_requires
                               (requirement_file_id, to_purl, constraints) VALUES (?,?,?)
                           ON CONFLICT DO UPDATE SET constraints = excluded.constraints""",
                        (file_id, target, link.constraints),
                    )
                    continue
                version = (
                    db.execute(
                        "SELECT purl, package_purl FROM versions WHERE id = ?",
                        (int(link.parent_id),),
                    ).fetchone()
                    if link.parent_id.isdigit()
                    else None
                )
                if version is None:
                    unknown.append(link.parent_id)
                    continue
                _pending_target(db, ecosystem, target, link.package)
                # The version's own requirement (with its marker and key) is the better edge.
                db.execute(
                    """INSERT INTO requires (from_purl, to_purl, key, constraints, raw_constraints,
                           parent_version_name, kind)
                       SELECT ?,?,?,?,?,?,'runtime'
                       WHERE NOT EXISTS (SELECT 1 FROM requires WHERE from_purl = ? AND to_purl = ?)""",
                    (
                        version[0],
                        target,
                        QUEUE_EDGE_KEY,
                        link.constraints,
                        link.constraints,
                        version[1],
                        version[0],
                        target,
                    ),
                )
        return sorted(set(unknown))

    @reading
    def parent_edges(self: _Store, parent_id: str) -> list[dict[str, Any]]:
        file_id = _file_id(parent_id)
        if file_id is not None:
            rows = self._db.execute(
                """SELECT to_purl, constraints FROM requirement_file_requires
                   WHERE requirement_file_id = ? ORDER BY to_purl""",
                (file_id,),
            )
            return [{"to": r[0], "constraints": r[1], "parent_version_name": None} for r in rows]
        if not parent_id.isdigit():
            return []
        rows = self._db.execute(
            """SELECT r.to_purl, r.constraints, r.parent_version_name FROM requires r
               JOIN versions v ON v.purl = r.from_purl WHERE v.id = ? ORDER BY r.to_purl, r.key""",
            (int(parent_id),),
        )
        return [{"to": r[0], "constraints": r[1], "parent_version_name": r[2]} for r in rows]


def _file_id(parent_id: str) -> int | None:
    """The requirement_files row id of an "rf:<n>" parent id, else None."""
    if parent_id.startswith(_FILE_PREFIX) and parent_id[len(_FILE_PREFIX) :].isdigit():
        return int(parent_id[len(_FILE_PREFIX) :])
    return None


def _pending_target(db: sqlite3.Connection, ecosystem: Ecosystem, purl: str, name: str) -> None:
    db.execute(
        "INSERT INTO packages (purl, ecosystem, name) VALUES (?,?,?) ON CONFLICT DO NOTHING",
        (purl, ecosystem.value, name),
    )
