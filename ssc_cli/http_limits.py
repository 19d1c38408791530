"""Politeness per registry host: a token-bucket rate, an in-flight cap, and how long a
Retry-After asks to wait (DESIGN.md, HTTP politeness). ssc_cli/http.py applies them to every
request; nothing here touches the network."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

RETRY_AFTER_CAP = 300.0  # seconds: a longer Retry-After is waited this long, then retried


@dataclass(slots=True)
class HostLimits:
    """Politeness for one host: a token-bucket rate (None = unlimited) and an in-flight cap."""

    rate: float | None
    concurrency: int


class TokenBucket:
    """Classic token bucket; a burst of one second's worth of tokens."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1.0:
                    self.tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self.tokens) / self.rate)


@dataclass
class HostGate:
    """What a request to one host passes first: its in-flight cap, then its rate (if any)."""

    semaphore: asyncio.Semaphore
    bucket: TokenBucket | None


def host_key(url: str) -> str:
    """The host (netloc) whose limits a URL's request counts against."""
    return urlsplit(url).netloc.lower()


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), RETRY_AFTER_CAP))
