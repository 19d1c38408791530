"""Where ssc may connect: the egress policy alone, then the HTTP layer with redirects over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssc_cli.egress import EgressPolicy, Rule, Target, parse_rule
from ssc_cli.errors import ConfigError, UrlRefused
from ssc_cli.http import Http, HttpConfig, target_of
from ssc_cli.settings import load_settings
from tests.conftest import Ssc
from tests.fakeregistry.hostile import Canary
from tests.fakeregistry.server import FakeRegistry, Request, Response, json_response


def policy(*urls: str, allowed: tuple[str, ...] = ()) -> EgressPolicy:
    return EgressPolicy.build([target_of(u) for u in urls], allowed)


def refusal(p: EgressPolicy, url: str) -> str | None:
    return p.refusal(target_of(url))


# -- the policy ---------------------------------------------------------------------------------


def test_configured_hosts_are_allowed_on_their_own_port_only() -> None:
    p = policy("https://pypi.org", "http://127.0.0.1:8080/npm")
    assert refusal(p, "https://pypi.org/simple/") is None
    assert refusal(p, "https://PYPI.org./pypi/x/json") is None  # case and trailing dot
    assert refusal(p, "http://127.0.0.1:8080/other/path") is None
    # another port of the same host is another service
    assert "127.0.0.1:8081 (a loopback address)" in str(refusal(p, "http://127.0.0.1:8081/"))
    assert refusal(p, "http://pypi.org/simple/") is not None  # http on port 80: not configured
    assert "evil.example" in str(refusal(p, "https://evil.example/x.whl"))


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://[fe80::1]/", "a link-local address"),
        ("http://127.0.0.1/", "a loopback address"),
        ("http://[::1]:6379/", "a loopback address"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address"),
        ("http://localhost:9200/", "a loopback name"),
        ("http://10.1.2.3/", "a private address"),
        ("http://0.0.0.0/", "an unspecified address"),
        ("http://8.8.8.8/", "an IP address"),
    ],
)
def test_addresses_outside_the_settings_are_refused_with_their_kind(url: str, kind: str) -> None:
    reason = refusal(policy("https://pypi.org"), url)
    assert reason is not None and kind in reason and "SSC_HTTP_ALLOWED_HOSTS" in reason


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://pypi.org/x",
        "gopher://pypi.org:70/x",
        "data:text/plain,hi",
    ],
)
def test_other_schemes_are_refused(url: str) -> None:
    try:
        target = target_of(url)
    except ValueError:
        return  # httpx cannot even parse it: the HTTP layer refuses it as unparseable
    reason = policy("https://pypi.org").refusal(target)
    assert reason is not None and "scheme" in reason


def test_credentials_in_a_payload_url_are_refused() -> None:
    reason = refusal(policy("https://pypi.org"), "https://user:secret@pypi.org/x")
    assert reason is not None and "user:password" in reason and "secret" not in reason


def test_the_allow_list_takes_hosts_ports_wildcards_and_urls() -> None:
    p = policy(
        "https://pypi.org",
        allowed=(
            "files.pythonhosted.org",
            "mirror.local:8443",
            "*.cdn.example",
            "https://[::1]:9/",
        ),
    )
    assert refusal(p, "https://files.pythonhosted.org/packages/x.whl") is None
    assert refusal(p, "http://files.pythonhosted.org/packages/x.whl") is None  # default ports
    assert refusal(p, "https://files.pythonhosted.org:8443/x") is not None
    assert refusal(p, "https://mirror.local:8443/x") is None
    assert refusal(p, "https://mirror.local/x") is not None
    assert refusal(p, "https://a.b.cdn.example/x") is None
    assert refusal(p, "https://cdn.example/x") is not None  # *.domain: names below it only
    assert refusal(p, "https://evilcdn.example/x") is not None
    assert refusal(p, "http://[::1]:9/x") is None


def test_parse_rule_rejects_what_names_no_host() -> None:
    assert parse_rule("*.example.org:81") == Rule("example.org", 81, wildcard=True)
    for bad in ("", "*", "*.", "host:0", "host:http", "a*b.example"):
        with pytest.raises(ValueError):
            parse_rule(bad)


def test_bad_allow_list_entries_are_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSC_HTTP_ALLOWED_HOSTS", "ok.example, host:99999")
    with pytest.raises(ConfigError, match="SSC_HTTP_ALLOWED_HOSTS"):
        load_settings()


def test_every_url_setting_is_an_allowed_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSC_NPM_URL", "https://npm.internal:4873/")
    monkeypatch.setenv("SSC_CRATES_API_URL", "https://me:tok@crates.internal/api/v1")
    config = HttpConfig.from_settings(load_settings())
    assert config.egress is not None
    for url in (
        "https://npm.internal:4873/left-pad",
        "https://crates.internal/api/v1/crates/x",
        "https://files.pythonhosted.org/packages/x.whl",  # the default allow-list
        "https://repo.maven.apache.org/maven2/x.pom",
    ):
        assert config.egress.allows(target_of(url)), url
    assert not config.egress.allows(Target("https", "npm.internal", 443))


# -- the HTTP layer -----------------------------------------------------------------------------


class Hops:
    """/go/N redirects N times on the same host; /away redirects to ?to=; /json answers."""

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/go/"):
            left = int(request.path.rsplit("/", 1)[1])
            where = "/hops/json" if left == 0 else f"/hops/go/{left - 1}"
            return Response(302, b"", {"Location": where}, etag=False)
        if request.path == "/away":
            target = request.query.partition("to=")[2]
            return Response(307, b"", {"Location": target}, etag=False)
        if request.path == "/json":
            return json_response({"ok": True, "auth": request.headers.get("authorization")})
        return Response(404, b"no")


@pytest.fixture
def hops(fake_registry: FakeRegistry) -> FakeRegistry:
    fake_registry.mount("hops", Hops())
    return fake_registry


@pytest.fixture
def canary() -> Iterator[Canary]:
    trap = Canary().start()
    try:
        yield trap
    finally:
        trap.stop()


def _http(tmp_path: Path, *allowed_urls: str, extra: tuple[str, ...] = ()) -> Http:
    config = HttpConfig(
        user_agent="ssc-test/1",
        rate_limits=False,
        cache_dir=tmp_path / "cache",
        backoff_base=0.01,
        backoff_max=0.05,
        egress=policy(*allowed_urls, allowed=extra),
    )
    return Http(config)


def test_redirects_on_a_configured_host_are_followed(hops: FakeRegistry, tmp_path: Path) -> None:
    async def go() -> object:
        async with _http(tmp_path, hops.url("hops")) as http:
            return await http.get_json(hops.url("hops") + "/go/3")

    assert asyncio.run(go()) == {"ok": True, "auth": None}


def test_too_many_redirects_fail_with_the_url(hops: FakeRegistry, tmp_path: Path) -> None:
    async def go() -> object:
        async with _http(tmp_path, hops.url("hops")) as http:
            return await http.get(hops.url("hops") + "/go/30")

    with pytest.raises(Exception, match="more than 10 redirects"):
        asyncio.run(go())


def test_a_redirect_off_the_configured_hosts_is_refused_never_fetched(
    hops: FakeRegistry, canary: Canary, tmp_path: Path
) -> None:
    async def go() -> tuple[int, list[tuple[str, str]]]:
        async with _http(tmp_path, hops.url("hops")) as http:
            with pytest.raises(UrlRefused) as refused:
                await http.get(hops.url("hops") + "/away?to=" + canary.url("/x"))
            assert "redirect to" in str(refused.value) and "a loopback address" in str(
                refused.value
            )
            return http.counters.refused, http.refusals

    count, refusals = asyncio.run(go())
    assert count == 1 and refusals[0][0] == canary.url("/x")
    assert canary.hits == []


def test_a_redirect_to_an_allowed_host_is_followed_without_the_credentials(
    hops: FakeRegistry, canary: Canary, tmp_path: Path
) -> None:
    """Basic auth belongs to the host it was configured for; the next hop does not get it."""
    other = canary.server.url()
    canary.server.mount("hops", Hops())

    async def go() -> object:
        http = _http(tmp_path, hops.url("hops"), extra=(other,))
        http.config.credentials = {f"127.0.0.1:{hops.port}": ("me", "s3cret")}
        async with http:
            first = await http.get_json(hops.url("hops") + "/json")
            assert first["auth"] is not None
            return await http.get_json(hops.url("hops") + "/away?to=" + other + "/hops/json")

    assert asyncio.run(go()) == {"ok": True, "auth": None}
    assert [p for _, p, _ in canary.hits] == ["/hops/json"]


def test_a_refused_url_is_not_retried_and_costs_no_request(tmp_path: Path) -> None:
    async def go() -> tuple[int, int]:
        async with _http(tmp_path, "https://pypi.org") as http:
            for url in ("file:///etc/passwd", "http://127.0.0.1:1/x", "https://u:p@pypi.org/"):
                with pytest.raises(UrlRefused):
                    await http.get(url)
            return http.counters.requests, http.counters.refused

    assert asyncio.run(go()) == (0, 3)


def test_allow_adds_the_host_of_an_explicit_url(hops: FakeRegistry, tmp_path: Path) -> None:
    async def go() -> object:
        async with _http(tmp_path, "https://pypi.org") as http:
            with pytest.raises(UrlRefused):
                await http.get(hops.url("hops") + "/json")
            http.allow(hops.url("hops") + "/anything")
            return await http.get_json(hops.url("hops") + "/json")

    assert asyncio.run(go()) == {"ok": True, "auth": None}


def test_a_url_named_on_the_command_line_may_be_fetched(ssc: Ssc, tmp_path: Path) -> None:
    """`ssc licenses sync URL`: the operator named the host, so it is allowed for that run."""
    from tests.fakeregistry.spdx import SpdxApp
    from tests.licenses.spdx_data import write_list

    elsewhere = FakeRegistry().start()  # a port no URL setting names
    try:
        elsewhere.mount("spdx", SpdxApp(write_list(tmp_path / "served")))
        assert ssc.json("licenses", "sync", elsewhere.url("spdx") + "/")["written"]
    finally:
        elsewhere.stop()
