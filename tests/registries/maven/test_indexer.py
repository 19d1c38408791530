"""The Maven Indexer transport chunk, `.properties` and the local GAV table."""

from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path

import pytest

from ssc_cli.errors import MalformedPayload
from ssc_cli.registries.maven.indexer import (
    artifact_events,
    artifact_record,
    decode_mutf8,
    encode_mutf8,
    iter_records,
    parse_index_properties,
    parse_java_properties,
    read_chunk_header,
    removal_record,
    write_chunk,
)
from ssc_cli.registries.maven.local_index import LocalIndex

ALL = frozenset({b"u", b"i", b"m", b"1", b"n", b"d", b"del", b"DESCRIPTOR", b"IDXINFO"})


def chunk_bytes(records: list[dict[str, str]], timestamp_ms: int = 1_700_000_000_123) -> bytes:
    out = io.BytesIO()
    write_chunk(out, records, timestamp_ms=timestamp_ms)
    return out.getvalue()


def read_all(data: bytes, wanted: frozenset[bytes] = ALL) -> list[dict[str, str]]:
    return list(iter_records(gzip.GzipFile(fileobj=io.BytesIO(data)), "test", wanted))


@pytest.mark.parametrize(
    "text", ["plain", "é€ünïcode", "nul\x00inside", "clef 𝄞 supplementary", ""]
)
def test_modified_utf8_round_trips(text: str) -> None:
    encoded = encode_mutf8(text)
    assert b"\x00" not in encoded  # Java never writes a raw NUL byte
    assert decode_mutf8(encoded) == text


def test_modified_utf8_matches_java_for_supplementary_characters() -> None:
    # DataOutput.writeUTF writes U+1D11E as the CESU-8 surrogate pair, not 4-byte UTF-8.
    assert encode_mutf8("𝄞") == b"\xed\xa0\xb4\xed\xb4\x9e"
    assert encode_mutf8("\x00") == b"\xc0\x80"


def test_chunk_round_trips_through_writer_and_reader(tmp_path: Path) -> None:
    records = [
        {"DESCRIPTOR": "NexusIndex", "IDXINFO": "1.0|central"},
        artifact_record("org.example", "lib", "1.0", modified_ms=1_600_000_000_000, sha1="ab" * 20),
        {
            **artifact_record("org.example", "lib", "1.0", modified_ms=1, classifier="sources"),
            "n": "Lib ünïcode",
            "d": "A library 𝄞",
        },
        removal_record("org.example", "old", "0.1", modified_ms=5),
    ]
    data = chunk_bytes(records)
    path = tmp_path / "chunk.gz"
    path.write_bytes(data)
    header = read_chunk_header(path)
    assert (header.version, header.timestamp_ms) == (1, 1_700_000_000_123)
    assert read_all(data) == records
    # The binary layout is Java's: after the gzip, a version byte and a big-endian int64.
    raw = gzip.decompress(data)
    assert raw[0] == 1 and struct.unpack(">q", raw[1:9])[0] == 1_700_000_000_123
    assert struct.unpack(">i", raw[9:13])[0] == 2  # field count of the descriptor record
    flags, name_len = struct.unpack(">BH", raw[13:16])
    assert flags == 7 and raw[16 : 16 + name_len] == b"DESCRIPTOR"


def test_reader_keeps_only_wanted_fields_and_yields_events() -> None:
    data = chunk_bytes(
        [
            {"DESCRIPTOR": "NexusIndex", "IDXINFO": "1.0|central"},
            artifact_record("g", "a", "1", modified_ms=42),
            artifact_record("g", "a", "1", modified_ms=40, classifier="javadoc"),
            removal_record("g", "b", "2", modified_ms=7),
            {"allGroups": "allGroups", "allGroupsList": "g|h" * 100_000},
        ]
    )
    records = read_all(data, frozenset({b"u", b"i", b"del"}))
    assert records[0] == {} and set(records[1]) == {"u", "i"}
    events = list(artifact_events(records))
    assert [(e.name, e.version, e.classifier, e.removed, e.modified_ms) for e in events] == [
        ("g:a", "1", None, False, 42),
        ("g:a", "1", "javadoc", False, 40),
        ("g:b", "2", None, True, None),
    ]


def test_truncated_chunk_is_malformed() -> None:
    data = gzip.decompress(chunk_bytes([artifact_record("g", "a", "1", modified_ms=1)] * 3))
    with pytest.raises(MalformedPayload, match="truncated"):
        read_all(gzip.compress(data[:-7]))


def test_corrupt_gzip_is_malformed() -> None:
    data = chunk_bytes([artifact_record("g", "a", "1", modified_ms=1)] * 50)
    with pytest.raises(MalformedPayload):
        read_all(data[: len(data) // 2])


def test_java_properties_syntax() -> None:
    text = (
        "#Maven Indexer Writer\n! bang comment\n"
        "nexus.index.id=central\n"
        "nexus.index.timestamp=20251117015700.383 +0000\n"
        "key\\ with\\ spaces : value\n"
        "continued = first \\\n    second\n"
        "unicode=\\u00e9t\\u00e9\n"
    )
    props = parse_java_properties(text)
    assert props["nexus.index.id"] == "central"
    assert props["nexus.index.timestamp"] == "20251117015700.383 +0000"
    assert props["key with spaces"] == "value"
    assert props["continued"] == "first second"
    assert props["unicode"] == "été"


def central_properties(last: int, listed: range) -> str:
    lines = [
        "nexus.index.id=central",
        "nexus.index.chain-id=1318453614498",
        "nexus.index.timestamp=20251117015700.383 +0000",
        f"nexus.index.last-incremental={last}",
    ]
    lines += [
        f"nexus.index.incremental-{k}={n}" for k, n in enumerate(sorted(listed, reverse=True))
    ]
    return "\n".join(lines)


def test_index_properties_and_incremental_plan() -> None:
    props = parse_index_properties(central_properties(871, range(842, 872)), "p")
    assert props.chain_id == "1318453614498" and props.last_incremental == 871
    assert len(props.incrementals) == 30
    assert props.chunks_after(869) == [870, 871]
    assert props.chunks_after(871) == []
    assert props.chunks_after(841) == list(range(842, 872))
    assert props.chunks_after(800) is None  # a gap: 801..841 are no longer published
    assert props.chunks_after(900) is None  # the publisher went backwards
    assert props.cursor() == {
        "chain_id": "1318453614498",
        "last_incremental": 871,
        "timestamp": "20251117015700.383 +0000",
    }
    with pytest.raises(MalformedPayload):
        parse_index_properties("# nothing\n", "p")


def test_local_index_collapses_variants_and_applies_incrementals(tmp_path: Path) -> None:
    full = tmp_path / "full.gz"
    full.write_bytes(
        chunk_bytes(
            [
                {"DESCRIPTOR": "NexusIndex", "IDXINFO": "1.0|central"},
                artifact_record("org.b", "x", "1.0", modified_ms=2000),
                artifact_record("org.b", "x", "1.0", modified_ms=1500, classifier="sources"),
                artifact_record("org.a", "y", "2.0", modified_ms=3000),
                artifact_record("org.b", "x", "1.1", modified_ms=4000),
                # The same version again, not adjacent: collapsed by the on-disk GROUP BY.
                artifact_record("org.b", "x", "1.0", modified_ms=1000, classifier="javadoc"),
            ]
        )
    )
    index = LocalIndex(tmp_path / "index.sqlite")
    props = parse_index_properties(central_properties(5, range(1, 6)), "p")
    stats = index.build(full, props)
    assert (stats.records, stats.versions, stats.names) == (5, 3, 2)
    assert list(index.names()) == ["org.a:y", "org.b:x"]
    assert index.versions("org.b:x") == {"1.0": 1000, "1.1": 4000}
    assert index.meta() == props.cursor()

    incremental = tmp_path / "6.gz"
    incremental.write_bytes(
        chunk_bytes(
            [
                artifact_record("org.b", "x", "1.2", modified_ms=5000),
                artifact_record("org.c", "new", "0.1", modified_ms=6000),
                removal_record("org.a", "y", "2.0", modified_ms=7000),
            ]
        )
    )
    touched = index.apply(incremental)
    assert touched == {"org.b:x", "org.c:new", "org.a:y"}
    assert index.versions("org.b:x") == {"1.0": 1000, "1.1": 4000, "1.2": 5000}
    assert index.versions("org.a:y") == {}
    assert list(index.names()) == ["org.b:x", "org.c:new"]
    # Applying the same chunk again (a rerun after a crash) changes nothing.
    assert index.apply(incremental) == touched
    assert index.versions("org.b:x") == {"1.0": 1000, "1.1": 4000, "1.2": 5000}
    index.close()


def test_records_straddling_window_refills_are_all_read() -> None:
    # ~3 MB of records: several window refills, each record must come out whole and in order.
    records = [
        artifact_record(f"org.g{n % 97}", f"artifact-{n}", f"{n % 11}.0", modified_ms=n)
        for n in range(25_000)
    ]
    records.insert(12_345, {"allGroups": "allGroups", "allGroupsList": "x|" * 400_000})
    data = chunk_bytes(records)
    assert len(gzip.decompress(data)) > 2_500_000
    events = list(artifact_events(read_all(data, frozenset({b"u", b"i", b"del"}))))
    assert len(events) == 25_000
    assert [(e.artifact_id, e.modified_ms) for e in events[::5000]] == [
        (f"artifact-{n}", n) for n in range(0, 25_000, 5000)
    ]


def test_an_incremental_chunk_is_applied_in_record_order(tmp_path: Path) -> None:
    full = tmp_path / "full.gz"
    full.write_bytes(chunk_bytes([artifact_record("org.a", "y", "1.0", modified_ms=1000)]))
    index = LocalIndex(tmp_path / "index.sqlite")
    props = parse_index_properties(central_properties(5, range(1, 6)), "p")
    index.build(full, props)
    incremental = tmp_path / "6.gz"
    incremental.write_bytes(
        chunk_bytes(
            [
                # Deployed and withdrawn within one chunk: gone.
                artifact_record("org.a", "y", "2.0", modified_ms=2000),
                removal_record("org.a", "y", "2.0", modified_ms=2000),
                # Withdrawn and redeployed within one chunk: present.
                removal_record("org.a", "y", "1.0", modified_ms=1000),
                artifact_record("org.a", "y", "1.0", modified_ms=3000),
            ]
        )
    )
    index.apply(incremental)
    assert index.versions("org.a:y") == {"1.0": 3000}
    index.close()


def test_applying_chunks_leaves_the_recorded_properties_to_the_caller(tmp_path: Path) -> None:
    full = tmp_path / "full.gz"
    full.write_bytes(chunk_bytes([artifact_record("org.a", "y", "1.0", modified_ms=1000)]))
    index = LocalIndex(tmp_path / "index.sqlite")
    before = parse_index_properties(central_properties(5, range(1, 6)), "p")
    index.build(full, before)
    incremental = tmp_path / "6.gz"
    incremental.write_bytes(chunk_bytes([artifact_record("org.a", "y", "1.1", modified_ms=1)]))
    index.apply(incremental)
    assert index.meta() == before.cursor()
    index.record(None)
    assert index.meta() is None
    after = parse_index_properties(central_properties(6, range(1, 7)), "p")
    index.record(after)
    assert index.meta() == after.cursor()
    index.close()
