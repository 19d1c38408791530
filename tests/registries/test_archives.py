"""Zip member names over HTTP: range requests, and servers that ignore Range."""

from __future__ import annotations

import asyncio
import io
import os
import zipfile
from pathlib import Path

import pytest

from ssc_cli.errors import PayloadTooLarge
from ssc_cli.http import Http, HttpConfig
from ssc_cli.registries.archives import zip_member_names
from tests.fakeregistry.server import FakeRegistry, Request, Response


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


SMALL = _zip({"pkg/__init__.py": b"x = 1\n", "pkg/core.py": b"y = 2\n"})
# Incompressible filler: a file well past what a range-ignoring server may send whole.
BIG = _zip({"big/__init__.py": b"", "big/blob.bin": os.urandom(4 * 1024 * 1024)})


class Files:
    """/ranged/<f> honours Range; /whole/<f> always answers with the whole file."""

    def handle(self, request: Request) -> Response:
        kind, _, name = request.path.strip("/").partition("/")
        body = {"small.zip": SMALL, "big.zip": BIG}.get(name)
        if body is None or kind not in ("ranged", "whole"):
            return Response(404, b"no")
        return Response(200, body, content_type="application/zip", ranges=kind == "ranged")


@pytest.fixture
def files(fake_registry: FakeRegistry) -> FakeRegistry:
    fake_registry.mount("files", Files())
    return fake_registry


def _names(files: FakeRegistry, tmp_path: Path, path: str) -> list[str]:
    async def go() -> list[str]:
        config = HttpConfig(user_agent="ssc-test/1", rate_limits=False, cache_dir=None)
        async with Http(config) as http:
            return await zip_member_names(http, files.url("files") + path)

    return asyncio.run(go())


def test_a_big_zip_costs_one_small_range(files: FakeRegistry, tmp_path: Path) -> None:
    assert _names(files, tmp_path, "/ranged/big.zip") == ["big/__init__.py", "big/blob.bin"]
    # The central directory sits in the 64 KiB tail: one range request of 4 MiB's worth of zip.
    assert [status for _m, _p, status in files.requests("/files/")] == [206]


def test_a_server_ignoring_range_is_read_whole_only_for_small_files(
    files: FakeRegistry, tmp_path: Path
) -> None:
    assert _names(files, tmp_path, "/whole/small.zip") == ["pkg/__init__.py", "pkg/core.py"]
    with pytest.raises(PayloadTooLarge, match="exceeds the cap"):
        _names(files, tmp_path, "/whole/big.zip")
    assert len(files.requests("/whole/big.zip")) == 1  # a cap is not retried
