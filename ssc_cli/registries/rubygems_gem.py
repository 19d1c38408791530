"""Import names of a gem: the require paths its `.gem` ships under `lib/`, read without extracting.

A `.gem` is a plain tar holding `metadata.gz`, `data.tar.gz` (the gem's files) and
`checksums.yaml.gz`. Both tars are read as streams from memory; only member names are looked at,
with caps on the entries and on the bytes decompressed (a gzip bomb stops at the cap).
"""

from __future__ import annotations

import io
import tarfile
from typing import IO

from ssc_cli.errors import MalformedPayload

DATA_MEMBER = "data.tar.gz"


class _CappedReader(io.RawIOBase):
    """A read-only stream that refuses to yield more than `limit` bytes."""

    def __init__(self, inner: IO[bytes], limit: int) -> None:
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        if len(data) > self._left:
            raise MalformedPayload("gem archive exceeds the decompressed size cap")
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)


def gem_data_members(gem: bytes, *, max_entries: int, max_unpacked: int) -> list[str]:
    """Member names of the `data.tar.gz` inside a `.gem` (at most max_entries of them)."""
    names: list[str] = []
    try:
        with tarfile.open(fileobj=io.BytesIO(gem), mode="r|") as outer:
            for member in outer:
                if member.name != DATA_MEMBER or not member.isfile():
                    continue
                stream = outer.extractfile(member)
                if stream is None:
                    break
                capped = io.BufferedReader(_CappedReader(stream, max_unpacked))
                with tarfile.open(fileobj=capped, mode="r|gz") as inner:
                    for item in inner:
                        names.append(item.name)
                        if len(names) >= max_entries:
                            break
                return names
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
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
