"""Neo4j side of the job lease (graph/cypher_lease.py): the methods Neo4jStore mixes in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ssc_cli.graph import cypher_lease

T = TypeVar("T")


@dataclass(frozen=True)
class LeaseState:
    """What a lease statement saw: whether this holder has it, and who does otherwise."""

    held: bool
    holder: str | None
    expires_at: str | None  # the server's time, ISO 8601
    remaining: int | None  # seconds until it expires, by the server's clock


class _Store(Protocol):
    def _read(self, action: str, fn: Callable[[Any], T]) -> T: ...

    def _write(self, action: str, fn: Callable[[Any], T]) -> T: ...

    def _schema(self, statements: list[str]) -> None: ...


def _state(tx: Any, query: str, **params: Any) -> LeaseState:
    row = dict(tx.run(query, params).single(strict=True))
    return LeaseState(bool(row["held"]), row["holder"], row["expires_at"], row["remaining"])


class Neo4jLeases:
    """acquire / renew / release of one `SscJobLease` node, each one write transaction."""

    def ensure_lease_schema(self: _Store) -> None:
        """The uniqueness on `job` that makes concurrent MERGEs agree on one node.

        Also made by migrate(); the lease is taken before migrate runs, on a graph maybe new."""
        # Looked up first: two runs creating it at once would have one warn "already exists".
        found = self._read(
            "reading the schema",
            lambda tx: tx.run(cypher_lease.SCHEMA_EXISTS, {"name": cypher_lease.CONSTRAINT}).data(),
        )
        if not found:
            self._schema([cypher_lease.SCHEMA])

    def acquire_lease(self: _Store, job: str, holder: str, ttl: float) -> LeaseState:
        ms = int(ttl * 1000)
        return self._write(
            "taking the job lease",
            lambda tx: _state(tx, cypher_lease.ACQUIRE, job=job, holder=holder, ttl_ms=ms),
        )

    def renew_lease(self: _Store, job: str, holder: str, ttl: float) -> LeaseState:
        ms = int(ttl * 1000)
        return self._write(
            "renewing the job lease",
            lambda tx: _state(tx, cypher_lease.RENEW, job=job, holder=holder, ttl_ms=ms),
        )

    def release_lease(self: _Store, job: str, holder: str) -> None:
        self._write(
            "releasing the job lease",
            lambda tx: tx.run(cypher_lease.RELEASE, {"job": job, "holder": holder}).consume(),
        )
