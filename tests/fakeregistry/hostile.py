"""A registry turned hostile: payload URLs rewritten, answers redirected, and a canary to catch hits.

`Steer` wraps any fake app: it replaces bytes in its 200 bodies (gzip ones too) and answers
matching paths with a redirect, so a payload can point somewhere ssc must not go. `Canary` is
that somewhere: a second server on another loopback port that records every request it gets.
Everything stays on 127.0.0.1, so even a broken egress check sends nothing off the machine.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from tests.fakeregistry.server import App, FakeRegistry, Request, Response


@dataclass
class Steer:
    """An app whose answers point elsewhere: body rewrites and redirects by path pattern."""

    app: App
    rewrites: list[tuple[bytes, bytes]] = field(default_factory=list)
    redirects: list[tuple[str, Callable[[Request], str]]] = field(default_factory=list)

    def handle(self, request: Request) -> Response:
        for pattern, target in self.redirects:
            if re.search(pattern, request.path):
                return Response(302, b"", {"Location": target(request)}, etag=False)
        response = self.app.handle(request)
        if response.status != 200 or not self.rewrites:
            return response
        body = response.body
        zipped = body[:2] == b"\x1f\x8b" and "gzip" in response.headers.get("Content-Encoding", "")
        if zipped:
            body = gzip.decompress(body)
        for old, new in self.rewrites:
            body = body.replace(old, new)
        if zipped:
            body = gzip.compress(body)
        return replace(response, body=body)


class Canary:
    """Answers everything with 200 and remembers it: any request reaching it is a leak."""

    def __init__(self) -> None:
        self.server = FakeRegistry()
        self.server.mount("evil", self)

    def handle(self, request: Request) -> Response:
        return Response(200, b'{"stolen": true}')

    def start(self) -> Canary:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def url(self, path: str = "") -> str:
        return self.server.url("evil") + path

    @property
    def hits(self) -> list[tuple[str, str, int]]:
        return self.server.requests()


def steer(server: FakeRegistry, prefix: str, **kw: object) -> Steer:
    """Wrap the app mounted under prefix (kw: rewrites, redirects) in a Steer, in place."""
    wrapped = Steer(server.apps[prefix.strip("/")], **kw)  # type: ignore[arg-type]
    server.mount(prefix, wrapped)
    return wrapped
