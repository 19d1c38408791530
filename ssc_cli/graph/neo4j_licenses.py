"""Neo4j side of licences: the methods Neo4jStore mixes in (parameters only, UNWIND batches)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

from ssc_cli.graph import cypher_licenses as cl
from ssc_cli.graph.interface import now_iso
from ssc_cli.graph.licensing import UNCLASSIFIED, verdict_fields
from ssc_cli.models import (
    Classification,
    Ecosystem,
    LicenseListInfo,
    LicenseRecord,
    PackageLicenseInput,
    VersionLicenseInput,
)

T = TypeVar("T")
_CHUNK = 2_000  # packages per UNWIND: their versions come back in the same rows


class _Store(Protocol):
    def _read(self, action: str, fn: Callable[[Any], T]) -> T: ...

    def _write(self, action: str, fn: Callable[[Any], T]) -> T: ...


def _rows(tx: Any, query: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(record) for record in tx.run(query, params).data()]


def _run(tx: Any, query: str, **params: Any) -> None:
    tx.run(query, params).consume()


def _moment(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "to_native"):
        value = value.to_native()
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else str(value)


def _inputs(rows: list[dict[str, Any]]) -> list[PackageLicenseInput]:
    out = []
    for row in sorted(rows, key=lambda r: str(r["purl"])):
        versions = [
            VersionLicenseInput(
                purl=v["purl"],
                name=v["name"],
                serial_number=int(v["serial_number"] if v["serial_number"] is not None else -1),
                yanked=bool(v["yanked"]),
                licenses=v["licenses"],
                oss_status=v["oss_status"],
            )
            for v in row["versions"]
            if v.get("purl") is not None
        ]
        out.append(
            PackageLicenseInput(
                purl=row["purl"],
                name=row["name"],
                licenses=row["licenses"],
                versions=versions,
                digest=row["digest"],
                list_version=row["list_version"],
                oss_status=row["oss_status"],
            )
        )
    return out


class Neo4jLicenses:
    """Licence methods of Neo4jStore (mixed in; it provides _read and _write)."""

    def replace_license_list(
        self: _Store, version: str, release_date: str | None, records: Sequence[LicenseRecord]
    ) -> None:
        licences = [
            {
                "spdx_id": r.spdx_id,
                "name": r.name,
                "osi_approved": r.osi_approved,
                "fsf_libre": r.fsf_libre,
                "deprecated": r.deprecated,
                "see_also": list(r.see_also),
            }
            for r in records
            if not r.is_exception
        ]
        exceptions = [
            {
                "spdx_id": r.spdx_id,
                "name": r.name,
                "deprecated": r.deprecated,
                "see_also": list(r.see_also),
            }
            for r in records
            if r.is_exception
        ]
        now = now_iso()

        def work(tx: Any) -> None:
            for start in range(0, len(licences), _CHUNK):
                _run(tx, cl.UPSERT_LICENSES, rows=licences[start : start + _CHUNK], version=version)
            _run(tx, cl.UPSERT_EXCEPTIONS, rows=exceptions, version=version)
            _run(tx, cl.SET_LIST, version=version, release_date=release_date, now=now)

        self._write("writing the SPDX licence list", work)

    def license_list_info(self: _Store) -> LicenseListInfo | None:
        def work(tx: Any) -> LicenseListInfo | None:
            rows = _rows(tx, cl.GET_LIST)
            if not rows:
                return None
            meta = rows[0]
            counts = _rows(tx, cl.COUNT_LICENSES, version=meta["version"])
            exceptions = _rows(tx, cl.COUNT_EXCEPTIONS, version=meta["version"])
            return LicenseListInfo(
                meta["version"],
                meta["release_date"],
                _moment(meta["synced_at"]),
                int(counts[0]["n"] or 0) if counts else 0,
                int(counts[0]["osi"] or 0) if counts else 0,
                int(exceptions[0]["n"] or 0) if exceptions else 0,
            )

        return self._read("reading the SPDX licence list", work)

    def license_records(self: _Store) -> list[LicenseRecord]:
        def work(tx: Any) -> list[LicenseRecord]:
            out = [
                LicenseRecord(
                    spdx_id=row["spdx_id"],
                    name=row["name"] or "",
                    osi_approved=bool(row["osi_approved"]),
                    fsf_libre=row["fsf_libre"],
                    deprecated=bool(row["deprecated"]),
                    see_also=tuple(row["see_also"] or ()),
                )
                for row in _rows(tx, cl.ALL_LICENSES)
            ]
            out += [
                LicenseRecord(
                    spdx_id=row["spdx_id"],
                    name=row["name"] or "",
                    deprecated=bool(row["deprecated"]),
                    see_also=tuple(row["see_also"] or ()),
                    is_exception=True,
                )
                for row in _rows(tx, cl.ALL_EXCEPTIONS)
            ]
            return out

        return self._read("reading licences", work)

    def license_inputs(
        self: _Store,
        ecosystem: Ecosystem,
        *,
        after: str = "",
        limit: int = 1000,
        since: str | None = None,
    ) -> list[PackageLicenseInput]:
        query = cl.inputs_page_query(ecosystem, since=since is not None)
        params: dict[str, Any] = {"after": after, "max_rows": limit}
        if since is not None:
            params["since"] = since
        rows = self._read("reading licence signals", partial(_rows, query=query, **params))
        return _inputs(rows)

    def license_inputs_of(
        self: _Store, ecosystem: Ecosystem, names: Iterable[str]
    ) -> list[PackageLicenseInput]:
        purls = sorted({ecosystem.purl(n) for n in names})
        query = cl.inputs_of_query(ecosystem)
        out: list[PackageLicenseInput] = []
        for start in range(0, len(purls), _CHUNK):
            chunk = purls[start : start + _CHUNK]
            rows = self._read("reading licence signals", partial(_rows, query=query, purls=chunk))
            out.extend(_inputs(rows))
        return out

    def write_classifications(
        self: _Store,
        ecosystem: Ecosystem,
        results: Sequence[Classification],
        list_version: str,
    ) -> None:
        if not results:
            return
        at = now_iso()
        packages = [
            {
                **verdict_fields(r.verdict, list_version, at),
                "purl": r.purl,
                "license_digest": r.digest,
            }
            for r in results
        ]
        versions = [
            {**verdict_fields(verdict, list_version, at), "purl": vpurl}
            for r in results
            for vpurl, verdict in r.versions
        ]
        query = cl.write_packages_query(ecosystem)

        def work(tx: Any) -> None:
            for start in range(0, len(packages), _CHUNK):
                _run(tx, query, rows=packages[start : start + _CHUNK])
            for start in range(0, len(versions), _CHUNK):
                _run(tx, cl.WRITE_VERSIONS, rows=versions[start : start + _CHUNK])

        self._write("writing classifications", work)

    def oss_status_counts(self: _Store) -> dict[str, dict[str, int]]:
        def work(tx: Any) -> dict[str, dict[str, int]]:
            out: dict[str, dict[str, int]] = {}
            for eco in Ecosystem:
                for row in _rows(tx, cl.status_counts_query(eco)):
                    key = row["status"] or UNCLASSIFIED
                    bucket = out.setdefault(eco.value, {})
                    bucket[key] = bucket.get(key, 0) + int(row["n"])
            return out

        return self._read("counting classifications", work)
