"""The shared HTTP layer against a real server: retries, Retry-After, 304s, ranges, caps, limits."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from httpx import _urls as httpx_urls

from ssc_cli.egress import EgressPolicy
from ssc_cli.errors import HttpStatusError, MalformedPayload, PayloadTooLarge, RegistryUnavailable
from ssc_cli.http import Http, HttpConfig, target_of
from tests.fakeregistry.server import FakeRegistry, Faults, Request, Response, json_response


class Echo:
    """Serves /json (a document), /big (1 MiB) and /bytes (0..255 repeated)."""

    def handle(self, request: Request) -> Response:
        if request.path == "/json":
            return json_response({"ok": True, "ua": request.headers.get("user-agent")})
        if request.path == "/auth":
            return json_response({"authorization": request.headers.get("authorization")})
        if request.path == "/big":
            return Response(200, b"x" * (1024 * 1024), content_type="application/octet-stream")
        if request.path == "/bytes":
            return Response(200, bytes(range(256)) * 4, content_type="application/octet-stream")
        return Response(404, b"no")


@pytest.fixture
def server(fake_registry: FakeRegistry) -> FakeRegistry:
    fake_registry.mount("echo", Echo())
    return fake_registry


def config(tmp_path: Path, **kw: object) -> HttpConfig:
    base = HttpConfig(
        user_agent="ssc-test/1",
        rate_limits=False,
        cache_dir=tmp_path / "cache",
        backoff_base=0.01,
        backoff_max=0.05,
    )
    for key, value in kw.items():
        setattr(base, key, value)
    return base


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_user_agent_and_json(server: FakeRegistry, tmp_path: Path) -> None:
    async def go() -> object:
        async with Http(config(tmp_path)) as http:
            return await http.get_json(server.url("echo") + "/json")

    assert run(go()) == {"ok": True, "ua": "ssc-test/1"}


def test_retries_429_and_500_then_succeeds(server: FakeRegistry, tmp_path: Path) -> None:
    server.faults = Faults(rate_429=0.3, rate_500=0.3, retry_after=0, seed=3)

    async def go() -> tuple[int, int]:
        async with Http(config(tmp_path, retries=10)) as http:
            for _ in range(20):
                await http.get(server.url("echo") + "/json")
            return http.counters.requests, http.counters.retries

    requests, retries = run(go())
    assert retries > 0 and requests == 20 + retries


def test_honours_retry_after(server: FakeRegistry, tmp_path: Path) -> None:
    server.faults = Faults(always={"/json": 429}, retry_after=1)

    async def go() -> float:
        async with Http(config(tmp_path, retries=1)) as http:
            started = time.monotonic()
            with pytest.raises(HttpStatusError) as info:
                await http.get(server.url("echo") + "/json")
            assert info.value.status == 429
            return time.monotonic() - started

    assert run(go()) >= 1.0  # backoff alone would have waited 0.05 s at most


def test_timeouts_and_connection_errors_become_registry_unavailable(
    server: FakeRegistry, tmp_path: Path
) -> None:
    # The server stalls 5 s, the client gives up after 0.2 s: seconds of margin either way.
    server.faults = Faults(rate_timeout=1.0, timeout_seconds=5.0)

    async def go() -> None:
        async with Http(config(tmp_path, retries=1, timeout=0.2)) as http:
            with pytest.raises(RegistryUnavailable, match="after 2 attempts"):
                await http.get(server.url("echo") + "/json")
            with pytest.raises(RegistryUnavailable, match="127.0.0.1:9"):
                await http.get("http://127.0.0.1:9/nothing")

    run(go())


def test_truncated_and_malformed_bodies_are_retried(server: FakeRegistry, tmp_path: Path) -> None:
    server.faults = Faults(rate_truncated=0.4, rate_malformed=0.4, seed=5)

    async def go() -> int:
        async with Http(config(tmp_path, retries=12)) as http:
            for _ in range(10):
                assert (await http.get_json(server.url("echo") + "/json", conditional=False))["ok"]
            return http.counters.retries

    assert run(go()) > 0


def test_malformed_json_raises_after_retries(server: FakeRegistry, tmp_path: Path) -> None:
    server.faults = Faults(rate_malformed=1.0)

    async def go() -> None:
        async with Http(config(tmp_path, retries=1)) as http:
            with pytest.raises(MalformedPayload, match="/json"):
                await http.get_json(server.url("echo") + "/json")

    run(go())


def test_conditional_get_costs_a_304(server: FakeRegistry, tmp_path: Path) -> None:
    async def go() -> tuple[int, bool]:
        async with Http(config(tmp_path)) as http:
            await http.get_json(server.url("echo") + "/json")
        async with Http(config(tmp_path)) as http:  # a later run, same cache directory
            again = await http.get(server.url("echo") + "/json", conditional=True)
            return http.counters.not_modified, again.from_cache

    assert run(go()) == (1, True)
    assert [s for _, p, s in server.requests("/json")] == [200, 304]


def test_size_cap(server: FakeRegistry, tmp_path: Path) -> None:
    async def go() -> None:
        async with Http(config(tmp_path)) as http:
            with pytest.raises(PayloadTooLarge):
                await http.get(server.url("echo") + "/big", max_bytes=1000)

    run(go())


def test_ranges(server: FakeRegistry, tmp_path: Path) -> None:
    async def go() -> tuple[bytes, bytes, str]:
        async with Http(config(tmp_path)) as http:
            tail = await http.get_range(server.url("echo") + "/bytes", suffix=4)
            middle = await http.get_range(server.url("echo") + "/bytes", start=10, end=12)
            return tail.content, middle.content, tail.headers["content-range"]

    tail, middle, content_range = run(go())
    assert tail == bytes([252, 253, 254, 255]) and middle == bytes([10, 11, 12])
    assert content_range == "bytes 1020-1023/1024"


def test_download_streams_to_file_and_revalidates(server: FakeRegistry, tmp_path: Path) -> None:
    async def go() -> tuple[bool, bool, int]:
        dest = tmp_path / "big.bin"
        async with Http(config(tmp_path)) as http:
            first = await http.download(server.url("echo") + "/big", dest)
            second = await http.download(server.url("echo") + "/big", dest)
            return first.not_modified, second.not_modified, dest.stat().st_size

    assert run(go()) == (False, True, 1024 * 1024)


def test_concurrency_cap_per_host(server: FakeRegistry, tmp_path: Path) -> None:
    server.latency = 0.05

    async def go() -> None:
        async with Http(config(tmp_path)) as http:
            http.limit_host(server.url(), rate=None, concurrency=3)
            await asyncio.gather(*(http.get(server.url("echo") + "/json") for _ in range(12)))

    run(go())
    assert server.max_in_flight == 3


def test_concurrency_override_for_one_run(server: FakeRegistry, tmp_path: Path) -> None:
    server.latency = 0.05

    async def go() -> None:
        async with Http(config(tmp_path, concurrency_override=1)) as http:
            http.limit_host(server.url(), rate=None, concurrency=8)
            await asyncio.gather(*(http.get(server.url("echo") + "/json") for _ in range(5)))

    run(go())
    assert server.max_in_flight == 1


def test_token_bucket_rate_and_lifting_it(server: FakeRegistry, tmp_path: Path) -> None:
    async def go(rate: float, rate_limits: bool) -> float:
        async with Http(config(tmp_path, rate_limits=rate_limits)) as http:
            http.limit_host(server.url(), rate=rate, concurrency=8)
            started = time.monotonic()
            await asyncio.gather(*(http.get(server.url("echo") + "/json") for _ in range(20)))
            return time.monotonic() - started

    assert run(go(10.0, True)) >= 0.9  # 10 tokens of burst, then 10 per second
    # SSC_HTTP_RATE_LIMIT=off: a limit that would take ~40 s is not applied at all
    assert run(go(0.5, False)) < 10


def test_credentials_go_as_basic_auth_to_their_host_only(
    server: FakeRegistry, tmp_path: Path
) -> None:
    netloc = server.url("echo").split("/")[2]

    async def go() -> tuple[object, object]:
        creds = {netloc: ("ci", "token")}
        async with Http(config(tmp_path, credentials=creds, cache_dir=None)) as http:
            mine = await http.get_json(server.url("echo") + "/auth")
            other = server.url("echo").replace("127.0.0.1", "localhost") + "/auth"
            theirs = await http.get_json(other)
            return mine, theirs

    mine, theirs = run(go())
    assert mine == {"authorization": "Basic Y2k6dG9rZW4="}  # ci:token
    assert theirs == {"authorization": None}


class Cookies:
    """/set answers with a Set-Cookie header; /show echoes the Cookie header it was sent."""

    def handle(self, request: Request) -> Response:
        if request.path == "/set":
            return Response(200, b"{}", {"Set-Cookie": "lb=node-2; Path=/"})
        return json_response({"cookie": request.headers.get("cookie")})


def test_cookies_are_kept_and_the_jar_reads_only_responses_that_set_one(
    fake_registry: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry's cookie still comes back on the next request, as httpx's own jar does; the
    jar (http.cookiejar, most of a response's bookkeeping) is not run for a response without
    Set-Cookie (issue 16)."""
    fake_registry.mount("cookies", Cookies())
    base = fake_registry.url("cookies")
    seen: list[str] = []
    jar_extract = httpx.Cookies.extract_cookies

    def counted(self: httpx.Cookies, response: httpx.Response) -> None:
        seen.append(response.request.url.path)
        jar_extract(self, response)

    monkeypatch.setattr(httpx.Cookies, "extract_cookies", counted)

    async def go() -> list[object]:
        async with Http(config(tmp_path, cache_dir=None)) as http:
            before = await http.get_json(base + "/show")
            await http.get(base + "/set")
            return [before, await http.get_json(base + "/show")]

    assert run(go()) == [{"cookie": None}, {"cookie": "lb=node-2"}]
    assert seen == ["/cookies/set"]


def test_a_request_url_is_parsed_once(
    server: FakeRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The egress check's parse of a URL is the one sent: httpx does not parse it again."""
    calls: list[str] = []
    parse = httpx_urls.urlparse

    def counted(url: str = "", **kwargs: object) -> object:
        calls.append(url)
        return parse(url, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx_urls, "urlparse", counted)
    url = server.url("echo") + "/json"
    policy = EgressPolicy.build([target_of(url)], ())

    async def go() -> object:
        async with Http(config(tmp_path, egress=policy)) as http:
            calls.clear()
            return await http.get_json(url)

    assert run(go()) == {"ok": True, "ua": "ssc-test/1"}
    assert calls.count(url) == 1
