"""Vulnerability sources for the contract suite: the embedded OSV store, MongoDB (fake or real).

SOURCE_KINDS is the parametrisation: "osv" (a temporary SQLite OSV store), "mongo-fake"
(MongoSource over mongomock: the same query shape is evaluated, queries are counted), and
"mongo" (MongoSource on the real MongoDB-protocol test server, tests/real_servers.py; each test uses
its own database, dropped afterwards). open_source(kind, tmp_path, records) returns a source
holding exactly these records.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ssc_cli.vulns.interface import VulnerabilitySource, parse_advisory
from ssc_cli.vulns.mongo import MongoSource
from ssc_cli.vulns.osv import Loaded, OsvStore
from tests.real_servers import mongo_uri

SOURCE_KINDS = ["osv", "mongo-fake", pytest.param("mongo", marks=pytest.mark.mongo)]


def real_mongo_uri() -> str:
    return mongo_uri()


def pypi_advisory(ident: str, name: str, vector: str | None = None) -> dict[str, Any]:
    """An OSV record naming every version of one PyPI package, scored by vector if given."""
    record: dict[str, Any] = {
        "id": ident,
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
            }
        ],
    }
    if vector is not None:
        record["severity"] = [{"type": "CVSS_V3", "score": vector}]
    return record


class Populated:
    """A source plus a way to change its records (a new sync, a new dump) between calls."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self._drop: Any = None
        if kind == "osv":
            self.osv = OsvStore(tmp_path / f"osv-{uuid.uuid4().hex}.sqlite")
            self.source: VulnerabilitySource = self.osv
            return
        if kind == "mongo-fake":
            import mongomock

            client: Any = mongomock.MongoClient()
            uri = "mongodb://fake:27017"
        else:
            from pymongo import MongoClient

            uri = real_mongo_uri()
            client = MongoClient(uri, serverSelectionTimeoutMS=5000)
        database = f"ssc_test_{uuid.uuid4().hex[:12]}"
        self.collection = client[database]["vulnerabilities"]
        self._drop = lambda: client.drop_database(database)
        self.mongo = MongoSource(uri, database=database, client=client)
        self.source = self.mongo

    def put(self, records: Sequence[dict[str, Any]]) -> None:
        if self.kind == "osv":
            self.osv.upsert([Loaded(parse_advisory(r), r) for r in records])
            return
        for record in records:  # as SecureChain's collection holds them: one document per id
            self.collection.replace_one({"id": record["id"]}, dict(record), upsert=True)

    @property
    def queries(self) -> int | None:
        return self.mongo.queries if self.kind != "osv" else None

    def close(self) -> None:
        if self._drop is not None:
            self._drop()
        self.source.close()
