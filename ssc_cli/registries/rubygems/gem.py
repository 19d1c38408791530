"""Import names of a gem: the require paths its `.gem` ships under `lib/`, read without extracting.

A `.gem` is a plain tar holding `metadata.gz`, `data.tar.gz` (the gem's files) and
`checksums.yaml.gz`. Both tars are read as streams from memory; only member names are looked at,
with caps on the entries and on the bytes decompressed (a gzip bomb stops at the cap).
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from typing import IO

from ssc_cli.errors import MalformedPayload, PayloadTooLarge

DATA_MEMBER = "data.tar.gz"


class _CappedReader(io.RawIOBase):
    """A read-only stream that refuses to yield more than `limit` bytes."""

    def __init__(self, inner: io.BufferedIOBase, limit: int) -> None:
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        if len(data) > self._left:
            raise PayloadTooLarge("gem archive exceeds the decompressed size cap")
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)


def _decompressed(stream: IO[bytes], limit: int) -> IO[bytes]:
    """data.tar.gz's tar bytes, counted after gunzip: the cap is on what a bomb expands to."""
    # Capping the compressed stream (and letting tarfile gunzip behind it) counts the wrong
    # bytes: a few KiB of gzip expand to GiB unnoticed.
    return io.BufferedReader(_CappedReader(gzip.GzipFile(fileobj=stream, mode="rb"), limit))


def gem_data_members(gem: bytes, *, max_entries: int, max_unpacked: int) -> list[str]:
    """Member names of the `data.tar.gz` inside a `.gem` (at most max_entries of them).

    Raises PayloadTooLarge once more than max_unpacked bytes of tar were decompressed.
    """
    names: list[str] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(gem), mode="r|") as outer:
            for member in outer:
                if member.name != DATA_MEMBER or not member.isfile():
                    continue
                stream = outer.extractfile(member)
                if stream is None:
                    break
                with tarfile.open(fileobj=_decompressed(stream, max_unpacked), mode="r|") as inner:
                    for item in inner:
                        names.append(item.name)
                        if len(names) >= max_entries:
                            break
                return names
    except (tarfile.TarError, EOFError, OSError, ValueError, zlib.error) as exc:
        raise MalformedPayload(f"unreadable .gem archive ({exc})") from exc
    raise MalformedPayload(f".gem archive has no {DATA_MEMBER}")


def require_paths(members: list[str]) -> list[str]:
    """`lib/nokogiri/xml.rb` -> `nokogiri/xml`: what `require` takes, tests and specs left out.

    Require paths, not module names: Ruby has no mapping from files to constants that could be
    read without running the code, and a require path is what a Gemfile user writes.
    """
    found: set[str] = set()
    for raw in members:
        name = raw.removeprefix("./")
        if not name.startswith("lib/") or not name.endswith(".rb"):
            continue
        path = name[len("lib/") : -len(".rb")]
        leaf = path.rsplit("/", 1)[-1]
        if not leaf or leaf.endswith(("_spec", "_test")):
            continue
        found.add(path)
    return sorted(found)
