"""Reachability of the SecureChain vulnerability database (MongoDB)."""

from __future__ import annotations

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from ssc_cli.errors import GraphUnavailable
from ssc_cli.settings import redact_url


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
