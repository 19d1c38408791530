"""Connecting to Redis from SSC_REDIS_URL or the old REDIS_HOST/PORT/DB settings."""

from __future__ import annotations

import redis
import redis.asyncio

from ssc_cli.errors import QueueUnavailable
from ssc_cli.settings import Settings, redact_url


def redis_url(settings: Settings) -> str | None:
    """The Redis URL in force, or None when no Redis is configured."""
    if settings.redis_url is not None:
        return settings.redis_url.get_secret_value()
    if settings.redis_host:
        return f"redis://{settings.redis_host}:{settings.redis_port}/{settings.redis_db}"
    return None


def connect(settings: Settings, *, timeout: float = 5.0) -> redis.Redis:
    """A client with decoded responses; QueueUnavailable when Redis is not configured or down."""
    url = redis_url(settings)
    if url is None:
        raise QueueUnavailable("no Redis configured: set SSC_REDIS_URL (or REDIS_HOST/REDIS_PORT)")
    client = redis.Redis.from_url(
        url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        raise QueueUnavailable(
            f"Redis at {redact_url(url)} unreachable ({exc}); check SSC_REDIS_URL and that it runs"
        ) from exc
    return client


async def connect_async(
    settings: Settings, *, timeout: float = 5.0, block_ms: int = 0
) -> redis.asyncio.Redis:
    """An asyncio client (the loop keeps fetching while Redis blocks); QueueUnavailable when down.

    The socket timeout outlasts the longest XREADGROUP BLOCK, which would otherwise read as a
    dead server.
    """
    url = redis_url(settings)
    if url is None:
        raise QueueUnavailable("no Redis configured: set SSC_REDIS_URL (or REDIS_HOST/REDIS_PORT)")
    client: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=timeout + block_ms / 1000,
        socket_connect_timeout=timeout,
    )
    try:
        await client.ping()
    except (redis.RedisError, OSError) as exc:
        await client.aclose()
        raise QueueUnavailable(
            f"Redis at {redact_url(url)} unreachable ({exc}); check SSC_REDIS_URL and that it runs"
        ) from exc
    return client


def stream_length(settings: Settings, stream: str) -> int:
    """XLEN of a stream (0 when it does not exist); QueueUnavailable when Redis is down."""
    client = connect(settings)
    try:
        return int(client.xlen(stream))
    except redis.RedisError as exc:
        raise QueueUnavailable(f"cannot read the length of {stream}: {exc}") from exc
    finally:
        client.close()
