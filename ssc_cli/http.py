"""The one shared async HTTP layer: per-host limits, retries, conditional GETs, size caps, counters.

Registry clients only build URLs and parse payloads; everything about being a polite and robust
client lives here (DESIGN.md, HTTP politeness). Only this module imports httpx.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ssc_cli import http_pool, json_payload
from ssc_cli.egress import DEFAULT_PORTS, EgressPolicy, Rule, Target
from ssc_cli.errors import (
    HttpStatusError,
    MalformedPayload,
    PayloadTooLarge,
    RegistryError,
    RegistryUnavailable,
    RetriesExhausted,
    UrlRefused,
)
from ssc_cli.http_cache import ResponseCache, conditional_headers, variant_of
from ssc_cli.http_limits import HostGate, HostLimits, TokenBucket, host_key, retry_after
from ssc_cli.settings import Settings, redact_url


def _import_httpx() -> None:
    """httpx's package imports its own command line (httpx._main: click, rich, pygments) where
    click is installed, about 60 ms before an ingest's first request that ssc never uses (issue 8).
    That one submodule is refused while httpx loads (its `httpx.main` is then httpx's stand-in
    that asks for `httpx[cli]`) and importable again afterwards."""
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return
    sys.modules["httpx._main"] = None  # type: ignore[assignment]  # None: ImportError, by design
    try:
        import httpx  # noqa: F401
    finally:
        del sys.modules["httpx._main"]


_import_httpx()

import httpx  # noqa: E402

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A fully read response (or a cached body revalidated by a 304)."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    from_cache: bool = False

    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        try:
            return json_payload.loads(self.content)
        except ValueError as exc:
            raise MalformedPayload(
                f"{self.url}: body is not valid JSON ({exc})", url=self.url
            ) from exc


@dataclass(slots=True)
class HttpCounters:
    """What a run cost on the wire, for its summary."""

    requests: int = 0
    retries: int = 0
    not_modified: int = 0
    bytes: int = 0
    refused: int = 0  # URLs (or redirect targets) outside the egress policy, never fetched

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class SetCookieJar(httpx.Cookies):
    """The client's cookies, read only from responses that set one. httpx hands every response
    to `http.cookiejar`, building a urllib request and an email message from it first (about
    16 us of a request's CPU, issue 16); the jar reads nothing but Set-Cookie and Set-Cookie2,
    so skipping responses without either keeps exactly the cookies it kept before."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


@dataclass(frozen=True, slots=True)
class Download:
    """A body streamed to a file; not_modified when the cached copy was still current."""

    path: Path
    headers: Mapping[str, str]
    not_modified: bool
    size: int


@dataclass
class HttpConfig:
    """The HTTP settings in force for one run."""

    user_agent: str
    timeout: float = 30.0
    connect_timeout: float = 10.0
    retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 60.0
    max_bytes: int = 128 * 1024 * 1024
    max_download_bytes: int = 8 * 1024**3
    rate_limits: bool = True
    concurrency_override: int | None = None
    cache_dir: Path | None = None
    default_limits: HostLimits = field(default_factory=lambda: HostLimits(None, 8))
    # (user, password) per host (netloc), sent as Basic auth: never part of a URL.
    credentials: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Where requests may go (ssc_cli/egress.py); None only for configs built by hand in tests.
    egress: EgressPolicy | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, concurrency: int | None = None) -> HttpConfig:
        return cls(
            user_agent=settings.user_agent,
            timeout=settings.http_timeout,
            connect_timeout=settings.http_connect_timeout,
            retries=settings.http_retries,
            backoff_base=settings.http_backoff_base,
            backoff_max=settings.http_backoff_max,
            max_bytes=settings.http_max_bytes,
            max_download_bytes=settings.http_max_download_bytes,
            rate_limits=settings.http_rate_limit,
            concurrency_override=concurrency,
            cache_dir=settings.cache_dir / "http",
            credentials=settings.registry_credentials,
            egress=EgressPolicy.build(
                (target_of(url) for url in settings.url_settings.values()),
                settings.allowed_hosts,
            ),
        )


class Http:
    """One httpx.AsyncClient per run, shared by every registry client."""

    def __init__(self, config: HttpConfig) -> None:
        self.config = config
        self.counters = HttpCounters()
        self._limits: dict[str, HostLimits] = {}
        self._hosts: dict[str, HostGate] = {}
        self._cache = ResponseCache(config.cache_dir) if config.cache_dir is not None else None
        self.refusals: list[tuple[str, str]] = []  # (redacted URL, reason), for the run
        transport = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64)
        )
        # httpcore's own pool scans itself quadratically on every request (ssc_cli/http_pool.py).
        self.linear_pool = http_pool.install(transport._pool)
        self.fast_locks = http_pool.fast_locks()
        self._client = httpx.AsyncClient(
            headers={"User-Agent": config.user_agent, "Accept-Encoding": "gzip"},
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            # Redirects are followed by _send, one checked hop at a time.
            follow_redirects=False,
            transport=transport,
        )
        # Not through the `cookies` setter, which copies whatever it is given into a plain jar.
        self._client._cookies = SetCookieJar()

    async def __aenter__(self) -> Http:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        try:
            await self._client.aclose()
        finally:
            if self._cache is not None:
                self._cache.close()  # writes the entries it still holds (http_cache.py)

    # -- where requests may go -------------------------------------------------------------

    def allow(self, url: str) -> None:
        """Let requests reach the host of a URL the operator gave explicitly (a command argument)."""
        if self.config.egress is not None:
            target = target_of(url)
            rules = (*self.config.egress.rules, Rule(target.host, target.port))
            self.config.egress = EgressPolicy(rules, self.config.egress.setting)

    def check(self, url: str, *, via: str | None = None) -> httpx.URL | str:
        """Raise UrlRefused, counted and remembered, when url is outside the egress policy; else
        the URL as httpx parsed it, which is what is then sent, so that a request's URL is parsed
        once, not once here and again by httpx (issue 16). Without a policy a URL httpx cannot
        parse comes back as it is, for httpx to reject as before."""
        policy = self.config.egress
        try:
            parsed: httpx.URL | None = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            parsed, problem = None, f"unparseable URL ({exc})"
        if policy is None:
            return parsed if parsed is not None else url
        if parsed is not None:
            reason = policy.refusal(_target(parsed))
            if reason is None:
                return parsed
        else:
            reason = problem
        shown = redact_url(url)
        self.counters.refused += 1
        self.refusals.append((shown, reason))
        log.warning(
            "refused %s%s: %s", shown, f" (redirect from {redact_url(via)})" if via else "", reason
        )
        prefix = f"{redact_url(via)}: redirect to {shown}" if via else shown
        raise UrlRefused(
            f"{prefix} refused, never fetched: {reason}; if that host is legitimate, add it "
            f"to {policy.setting}",
            url=shown,
            reason=reason,
        )

    # -- limits ---------------------------------------------------------------------------

    def limit_host(self, base_url: str, *, rate: float | None, concurrency: int) -> None:
        """Declare the politeness of the host serving base_url (call before the first request)."""
        self._limits[host_key(base_url)] = HostLimits(rate, concurrency)
        self._hosts.pop(host_key(base_url), None)

    def host_concurrency(self, base_url: str) -> int:
        """In-flight cap in force for the host of base_url."""
        if self.config.concurrency_override is not None:
            return self.config.concurrency_override
        return self._limits.get(host_key(base_url), self.config.default_limits).concurrency

    def _host(self, key: str) -> HostGate:
        """The limits of one host (netloc), built on its first request."""
        host = self._hosts.get(key)
        if host is None:
            limits = self._limits.get(key, self.config.default_limits)
            concurrency = self.config.concurrency_override or limits.concurrency
            rate = limits.rate if self.config.rate_limits else None
            host = HostGate(asyncio.Semaphore(concurrency), TokenBucket(rate) if rate else None)
            self._hosts[key] = host
        return host

    # -- requests -------------------------------------------------------------------------

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        conditional: bool = False,
        max_bytes: int | None = None,
        ok: frozenset[int] = frozenset({200}),
    ) -> HttpResponse:
        """GET with retries; raises HttpStatusError for any status outside `ok` (and 304)."""
        send_headers = dict(headers or {})
        variant = variant_of(send_headers)
        cache = self._cache if conditional else None
        cached = cache.lookup(url, variant) if cache is not None else None
        if cached is not None:
            send_headers |= conditional_headers(cached)
        response = await self._send("GET", url, send_headers, max_bytes or self.config.max_bytes)
        if response.status == 304 and cached is not None:
            self.counters.not_modified += 1
            return HttpResponse(url, 200, cached["headers"], cached["content"], from_cache=True)
        if response.status not in ok:
            raise _status_error(url, response.status, self.config.retries)
        if cache is not None and response.status == 200:
            cache.store(url, variant, response.headers, response.content)
        return response

    async def head(self, url: str) -> int:
        """The status of a HEAD request (redirects followed, retries as for GET); no body read."""
        return (await self.head_response(url)).status

    async def head_response(
        self, url: str, *, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """A HEAD request's status and headers (a registry head: a serial, a Content-Length)."""
        return await self._send("HEAD", url, dict(headers or {}), self.config.max_bytes)

    async def get_parsed(
        self,
        url: str,
        parse: Callable[[HttpResponse], T],
        *,
        headers: Mapping[str, str] | None = None,
        conditional: bool = True,
        max_bytes: int | None = None,
    ) -> T:
        """GET and parse. A body the parser rejects (MalformedPayload) leaves the cache, so it is
        never revalidated with a 304, and is fetched again like a 5xx, then raised."""
        attempt = 0
        while True:
            response = await self.get(
                url, headers=headers, conditional=conditional, max_bytes=max_bytes
            )
            try:
                return parse(response)
            except MalformedPayload:
                self.forget(url, headers)
                if attempt >= self.config.retries:
                    raise
                attempt += 1
                self.counters.retries += 1
                await asyncio.sleep(self._backoff(attempt))

    async def get_json(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        conditional: bool = True,
        max_bytes: int | None = None,
    ) -> Any:
        """GET a JSON document; a body that does not parse is retried like a 5xx, then raised."""
        return await self.get_parsed(
            url, HttpResponse.json, headers=headers, conditional=conditional, max_bytes=max_bytes
        )

    async def get_range(
        self,
        url: str,
        *,
        start: int | None = None,
        end: int | None = None,
        suffix: int | None = None,
        max_bytes: int | None = None,
    ) -> HttpResponse:
        """A byte range (206), or the whole body when the server ignores Range (200), up to
        max_bytes: past it PayloadTooLarge, so a range never turns into a whole download."""
        if suffix is not None:
            spec = f"bytes=-{suffix}"
        elif end is None:
            spec = f"bytes={start or 0}-"
        else:
            spec = f"bytes={start or 0}-{end}"
        return await self.get(
            url, headers={"Range": spec}, ok=frozenset({200, 206}), max_bytes=max_bytes
        )

    async def download(
        self,
        url: str,
        dest: Path,
        *,
        conditional: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> Download:
        """Stream a large body to dest (atomically); reuse dest when the server says 304."""
        send_headers = dict(headers or {})
        variant = str(dest)  # the body is in dest; the cache keeps only its validators
        cache = self._cache if conditional else None
        meta = cache.lookup(url, variant) if cache is not None and dest.exists() else None
        if meta is not None:
            send_headers |= conditional_headers(meta)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + f".part-{os.getpid()}")
        response = await self._send(
            "GET", url, send_headers, self.config.max_download_bytes, sink=tmp
        )
        if response.status == 304 and meta is not None:
            self.counters.not_modified += 1
            return Download(dest, meta["headers"], True, dest.stat().st_size)
        if response.status != 200:
            tmp.unlink(missing_ok=True)
            raise _status_error(url, response.status, self.config.retries)
        os.replace(tmp, dest)
        if cache is not None:
            cache.store(url, variant, response.headers)
        return Download(dest, response.headers, False, dest.stat().st_size)

    def forget(self, url: str, headers: Mapping[str, str] | None = None) -> None:
        """Drop a cached body (it turned out to be bad)."""
        if self._cache is not None:
            self._cache.forget(url, variant_of(headers or {}))

    # -- internals ------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        max_bytes: int,
        *,
        sink: Path | None = None,
    ) -> HttpResponse:
        """One request, its redirects followed hop by hop, each hop checked before it is sent."""
        target = self.check(url)
        current, via = url, None
        for _ in range(MAX_REDIRECTS + 1):
            if via is not None:
                target = self.check(current, via=via)
            response = await self._send_one(method, current, target, headers, max_bytes, sink)
            location = response.headers.get("location")
            if response.status not in REDIRECT_STATUSES or not location:
                return HttpResponse(
                    url, response.status, response.headers, response.content, response.from_cache
                )
            try:
                following = str(httpx.URL(current).join(location))
            except (httpx.InvalidURL, ValueError) as exc:
                raise MalformedPayload(
                    f"{redact_url(current)}: unusable redirect Location {location[:200]!r}",
                    url=url,
                ) from exc
            if response.status == 303:
                method = "GET" if method != "HEAD" else method
            current, via = following, current
        raise RegistryError(
            f"{redact_url(url)}: more than {MAX_REDIRECTS} redirects; check the registry URL setting",
            url=url,
        )

    async def _send_one(
        self,
        method: str,
        url: str,
        target: httpx.URL | str,
        headers: Mapping[str, str],
        max_bytes: int,
        sink: Path | None,
    ) -> HttpResponse:
        """One hop: url (the text, for messages and limits) is sent as target (its parse)."""
        key = host_key(url)
        host = self._host(key)
        login = self.config.credentials.get(key)
        auth = httpx.BasicAuth(*login) if login is not None else httpx.USE_CLIENT_DEFAULT
        attempt = 0
        while True:
            if host.bucket is not None:
                await host.bucket.acquire()
            delay: float | None = None
            async with host.semaphore:
                self.counters.requests += 1
                try:
                    async with self._client.stream(
                        method, target, headers=headers, auth=auth
                    ) as resp:
                        status = resp.status_code
                        if status in REDIRECT_STATUSES and resp.headers.get("location"):
                            return HttpResponse(url, status, dict(resp.headers), b"")
                        if status in RETRY_STATUSES and attempt < self.config.retries:
                            delay = retry_after(resp.headers) or self._backoff(attempt)
                            log.debug(
                                "%s answered %s; retry %d in %.2fs", url, status, attempt + 1, delay
                            )
                        else:
                            content = await self._read(
                                resp, url, max_bytes, sink if status == 200 else None
                            )
                            return HttpResponse(url, status, dict(resp.headers), content)
                except httpx.DecodingError as exc:
                    # A body whose Content-Encoding does not decode was damaged in flight:
                    # fetch it again, and report a body that never decodes as malformed.
                    if attempt >= self.config.retries:
                        raise MalformedPayload(
                            f"{url}: body does not decode after {attempt + 1} attempts ({exc})",
                            url=url,
                        ) from exc
                    delay = self._backoff(attempt)
                    log.debug("%s failed with %r; retry %d in %.2fs", url, exc, attempt + 1, delay)
                except httpx.TransportError as exc:
                    if attempt >= self.config.retries:
                        raise RegistryUnavailable(
                            f"{url}: {type(exc).__name__} after {attempt + 1} attempts ({exc}); "
                            "check the registry URL setting and the network",
                            url=url,
                        ) from exc
                    delay = self._backoff(attempt)
                    log.debug("%s failed with %r; retry %d in %.2fs", url, exc, attempt + 1, delay)
            attempt += 1
            self.counters.retries += 1
            await asyncio.sleep(delay)

    async def _read(
        self, resp: httpx.Response, url: str, max_bytes: int, sink: Path | None
    ) -> bytes:
        if resp.request.method == "HEAD":
            return b""  # Content-Length describes the body a GET would send
        declared = resp.headers.get("content-length")
        if (
            declared
            and declared.isdigit()
            and int(declared) > max_bytes
            and "gzip" not in resp.headers.get("content-encoding", "")
        ):
            raise PayloadTooLarge(
                f"{url}: {declared} bytes exceeds the cap of {max_bytes}", url=url
            )
        size = 0
        if sink is not None:
            with sink.open("wb") as out:
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise PayloadTooLarge(
                            f"{url}: body exceeds the cap of {max_bytes} bytes", url=url
                        )
                    out.write(chunk)
            self.counters.bytes += size
            return b""
        chunks = []
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"{url}: body exceeds the cap of {max_bytes} bytes", url=url)
            chunks.append(chunk)
        self.counters.bytes += size
        return b"".join(chunks)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        ceiling = min(self.config.backoff_max, self.config.backoff_base * (2**attempt))
        return random.uniform(ceiling / 2, ceiling) if ceiling > 0 else 0.0


def _status_error(url: str, status: int, retries: int) -> HttpStatusError:
    """The error of a final status; one still retryable after every retry means the registry is
    failing (RegistryUnavailable), which the pipeline counts toward "registry down" (exit 4)."""
    if status in RETRY_STATUSES:
        return RetriesExhausted(
            f"{url} answered HTTP {status} after {retries + 1} attempts", url=url, status=status
        )
    return HttpStatusError(f"{url} answered HTTP {status}", url=url, status=status)


def target_of(url: str) -> Target:
    """Where httpx would connect for url (its own parser: no second opinion to disagree with)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(str(exc)) from exc
    return _target(parsed)


def _target(parsed: httpx.URL) -> Target:
    scheme = parsed.scheme.lower()
    host = parsed.raw_host.decode("ascii", errors="replace").strip("[]").rstrip(".").lower()
    return Target(
        scheme, host, parsed.port or DEFAULT_PORTS.get(scheme), userinfo=bool(parsed.userinfo)
    )
