"""The fake registry's fault mix: seeded, and each fault is what a real registry or network does."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from ssc_cli.errors import RegistryUnavailable
from ssc_cli.http import Http, HttpConfig
from tests.fakeregistry.server import FakeRegistry, Faults, Request, Response, json_response


class Doc:
    def handle(self, request: Request) -> Response:
        return json_response({"path": request.path, "pad": "x" * 2000})


@pytest.fixture
def server(fake_registry: FakeRegistry) -> FakeRegistry:
    fake_registry.mount("doc", Doc())
    return fake_registry


def _config(tmp_path: Path, retries: int) -> HttpConfig:
    return HttpConfig(
        user_agent="ssc-test/1",
        rate_limits=False,
        cache_dir=None,
        retries=retries,
        backoff_base=0.0,
        backoff_max=0.0,
        timeout=1.0,
    )


def test_a_reset_is_a_real_rst(server: FakeRegistry) -> None:
    server.faults = Faults(rate_reset=1.0)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /doc/x HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            while sock.recv(65536):
                pass
    assert server.faults.drawn == {"reset": 1}


def test_resets_are_retried_then_reported(server: FakeRegistry, tmp_path: Path) -> None:
    server.faults = Faults(rate_reset=1.0)

    async def fails() -> None:
        async with Http(_config(tmp_path, retries=2)) as http:
            await http.get_json(server.url("doc") + "/a")

    with pytest.raises(RegistryUnavailable, match="after 3 attempts"):
        asyncio.run(fails())

    server.faults = Faults(rate_reset=0.5, seed=5)

    async def recovers() -> tuple[int, int]:
        async with Http(_config(tmp_path, retries=20)) as http:
            for n in range(20):
                assert (await http.get_json(server.url("doc") + f"/{n}"))["path"] == f"/{n}"
            return http.counters.requests, http.counters.retries

    requests, retries = asyncio.run(recovers())
    assert retries == server.faults.drawn["reset"] > 0 and requests == 20 + retries


def test_the_soak_mix_is_seeded_and_in_proportion() -> None:
    first, second, other = Faults.soak(7), Faults.soak(7), Faults.soak(8)
    draws = [first.draw(f"/p/{i}") for i in range(20_000)]
    assert draws == [second.draw(f"/p/{i}") for i in range(20_000)]
    assert draws != [other.draw(f"/p/{i}") for i in range(20_000)]
    share = {kind: n / 20_000 for kind, n in first.drawn.items()}
    assert abs(share["429"] - 0.10) < 0.01 and abs(share["500"] - 0.05) < 0.008
    assert abs(share["reset"] + share["timeout"] - 0.02) < 0.005
    assert abs(share["truncated"] + share["malformed"] - 0.01) < 0.004
