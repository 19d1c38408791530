"""The SPDX licence-list JSON as spdx.org serves it: `licenses.json` and `exceptions.json` under
one folder URL (SSC_SPDX_URL), with ETags; the files come from a folder tests rewrite."""

from __future__ import annotations

from pathlib import Path

from tests.fakeregistry.server import NOT_FOUND, Request, Response


class SpdxApp:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.requests: list[str] = []

    def handle(self, request: Request) -> Response:
        self.requests.append(request.path)
        name = request.path.strip("/")
        if name not in ("licenses.json", "exceptions.json"):
            return NOT_FOUND
        path = self.folder / name
        if not path.is_file():
            return NOT_FOUND
        return Response(200, path.read_bytes())
