"""SecureChain's MongoDB `vulnerabilities` collection as a vulnerability source (read-only).

One query per batch of packages: `affected` `$elemMatch` on the ecosystem and the name (both in
the same entry, unlike the old per-version query, securechain-compat.md §2 and §6.8), `$in` over
the batch, projecting only what matching and scoring read. Where an ecosystem's names compare
loosely (PyPI PEP 503, NuGet and RubyGems case, crates `-`/`_`) the batch is a list of anchored
case-insensitive patterns, and every hit is checked again with the ecosystem's own rule.
ssc never writes this database.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from ssc_cli.errors import GraphUnavailable
from ssc_cli.models import Ecosystem
from ssc_cli.settings import redact_url
from ssc_cli.vulns.ecosystems import from_osv, rules
from ssc_cli.vulns.interface import (
    Advisory,
    Changes,
    EcosystemStats,
    InvalidRecord,
    SourceInfo,
    VulnSourceUnavailable,
    iso,
    parse_advisory,
)
from ssc_cli.vulns.severity import rejected_vectors
from ssc_cli.vulns.sync import OVERLAP

log = logging.getLogger(__name__)

# What matching and scoring read (severity[].base_score is SecureChain's enrichment).
PROJECTION = {
    "_id": 0,
    "id": 1,
    "modified": 1,
    "withdrawn": 1,
    "schema_version": 1,
    "aliases": 1,
    "severity": 1,
    "affected.package": 1,
    "affected.ranges": 1,
    "affected.versions": 1,
    "affected.severity": 1,
}
# Ecosystems whose names are compared exactly (npm: case-sensitive; Maven coordinates).
_EXACT = frozenset({Ecosystem.NPM, Ecosystem.MAVEN})
_SPLIT = {Ecosystem.PYPI: (r"[-_.]+", "[-_.]+"), Ecosystem.CARGO: (r"[-_]", "[-_]")}


def ping(uri: str, *, timeout_ms: int = 3000) -> None:
    """Raise GraphUnavailable (exit 5) when MongoDB does not answer a ping."""
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms
    )
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        raise GraphUnavailable(f"MongoDB at {redact_url(uri)} unreachable: {exc}") from exc
    finally:
        client.close()


def name_terms(ecosystem: Ecosystem, names: Sequence[str]) -> list[Any]:
    """The `$in` list that finds every stored spelling of these names."""
    if ecosystem in _EXACT:
        return sorted(set(names))
    split, joiner = _SPLIT.get(ecosystem, (None, ""))
    terms = []
    for name in sorted(set(names)):
        parts = re.split(split, name) if split else [name]
        terms.append(
            re.compile("^" + joiner.join(re.escape(p) for p in parts) + "$", re.IGNORECASE)
        )
    return terms


def ecosystem_terms(ecosystem: Ecosystem) -> dict[str, Any]:
    osv = rules(ecosystem).osv_name
    return {"$in": [osv, re.compile("^" + re.escape(osv) + ":")]}  # Maven:https://… too


class MongoSource:
    """VulnerabilitySource over a MongoDB collection of OSV-shaped documents."""

    kind = "mongodb"

    def __init__(
        self,
        uri: str,
        *,
        database: str = "vulnerabilities",
        collection: str = "vulnerabilities",
        user: str | None = None,
        password: str | None = None,
        timeout_ms: int = 10_000,
        client: Any = None,
    ) -> None:
        self.target = redact_url(uri)
        self._secret = password or ""
        self.queries = 0  # finds issued: one per batch of packages
        self.invalid: list[str] = []  # documents that did not validate (skipped)
        self.rejected_vectors: list[dict[str, str]] = []  # used, but their vector scores nothing
        self._seen: set[tuple[str, str]] = set()  # (id, modified) already checked
        if client is None:
            auth: dict[str, Any] = {"username": user, "password": password} if user else {}
            client = MongoClient(
                uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms, **auth
            )
        self._client = client
        self._collection = client[database][collection]

    def _fail(self, exc: Exception, action: str) -> VulnSourceUnavailable:
        text = str(exc)
        if self._secret:
            text = text.replace(self._secret, "***")
        return VulnSourceUnavailable(
            f"MongoDB at {self.target} unreachable while {action}: {text}; "
            "check SSC_VULN_DB_URI and that the server is running"
        )

    def _find(
        self, query: Mapping[str, Any], projection: Mapping[str, Any], action: str
    ) -> list[Any]:
        self.queries += 1
        try:
            return list(self._collection.find(query, projection))
        except PyMongoError as exc:
            raise self._fail(exc, action) from None

    def _parse(self, doc: Mapping[str, Any]) -> Advisory | None:
        """Validate a document; the bad ones are named once per run (one per batch it is in)."""
        try:
            advisory = parse_advisory(doc)
        except InvalidRecord as exc:
            reason = str(exc)
            if reason not in self.invalid:
                self.invalid.append(reason)
                log.warning("skipping a MongoDB advisory that does not validate: %s", exc)
            return None
        seen = (advisory.id, advisory.modified_text)
        if seen not in self._seen:
            self._seen.add(seen)
            self.rejected_vectors.extend(
                {"id": advisory.id, "reason": problem} for problem in rejected_vectors(advisory)
            )
        return advisory

    def advisories(self, ecosystem: Ecosystem, names: Sequence[str]) -> dict[str, list[Advisory]]:
        if not names:
            return {}
        match_name = rules(ecosystem).match_name
        by_key: dict[str, list[str]] = {}
        for name in names:
            by_key.setdefault(match_name(name), []).append(name)
        query = {
            "affected": {
                "$elemMatch": {
                    "package.ecosystem": ecosystem_terms(ecosystem),
                    "package.name": {"$in": name_terms(ecosystem, names)},
                }
            }
        }
        out: dict[str, list[Advisory]] = {}
        for doc in self._find(query, PROJECTION, "reading advisories"):
            advisory = self._parse(doc)
            if advisory is None:
                continue
            keys = {
                match_name(a.package.name)
                for a in advisory.affected
                if a.package is not None and from_osv(a.package.ecosystem) is ecosystem
            }
            for key in keys:
                for name in by_key.get(key, ()):
                    out.setdefault(name, []).append(advisory)
        return out

    def get(self, advisory_id: str) -> Advisory | None:
        raw = self.raw(advisory_id)
        return None if raw is None else self._parse(raw)

    def raw(self, advisory_id: str) -> dict[str, Any] | None:
        try:
            doc = self._collection.find_one({"id": advisory_id}, {"_id": 0})
            if doc is None:
                doc = self._collection.find_one({"aliases": advisory_id}, {"_id": 0})
        except PyMongoError as exc:
            raise self._fail(exc, "reading an advisory") from None
        return None if doc is None else {k: _plain(v) for k, v in dict(doc).items()}

    def changes(self, ecosystem: Ecosystem, cursor: Mapping[str, Any] | None) -> Changes:
        eco = {"affected.package.ecosystem": ecosystem_terms(ecosystem)}
        newest = self._newest(eco)
        new_cursor = {"source": "mongodb", "target": self.target, "modified": newest}
        since_text = (
            cursor.get("modified") if cursor and cursor.get("target") == self.target else None
        )
        if not since_text:
            return Changes(None, new_cursor)
        since = datetime.fromisoformat(str(since_text).replace("Z", "+00:00")) - OVERLAP
        # `modified` is the OSV string in SecureChain's dump; a BSON date is compared too.
        query = {**eco, "$or": [{"modified": {"$gt": iso(since)}}, {"modified": {"$gt": since}}]}
        match_name = rules(ecosystem).match_name
        names: set[str] = set()
        docs = self._find(query, {"_id": 0, "affected.package": 1}, "reading changed advisories")
        for doc in docs:
            for entry in doc.get("affected") or ():
                package = entry.get("package") or {}
                if from_osv(str(package.get("ecosystem", ""))) is ecosystem and package.get("name"):
                    names.add(match_name(str(package["name"])))
        return Changes(names, new_cursor, len(docs))

    def _newest(self, query: Mapping[str, Any]) -> str | None:
        try:
            doc = self._collection.find_one(
                query, {"_id": 0, "modified": 1}, sort=[("modified", -1)]
            )
        except PyMongoError as exc:
            raise self._fail(exc, "reading the newest advisory") from None
        if doc is None or doc.get("modified") is None:
            return None
        value = doc["modified"]
        return iso(value) if isinstance(value, datetime) else str(value)

    def info(self) -> SourceInfo:
        stats = []
        for eco in Ecosystem:
            query = {"affected.package.ecosystem": ecosystem_terms(eco)}
            try:
                count = int(self._collection.count_documents(query))
            except PyMongoError as exc:
                raise self._fail(exc, "counting advisories") from None
            if count:
                stats.append(EcosystemStats(eco, count, self._newest(query)))
        return SourceInfo(self.kind, self.target, stats)

    def close(self) -> None:
        self._client.close()


def _plain(value: Any) -> Any:
    """BSON values as JSON ones (for `ssc vulns show`)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)
