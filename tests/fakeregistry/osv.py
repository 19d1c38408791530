"""osv.dev's bucket layout: `<ECO>/all.zip`, `<ECO>/modified_id.csv`, `<ECO>/<ID>.json`.

As the exporter writes them (osv.dev go/cmd/exporter): compact JSON records; the CSV has no
header, rows `<modified>,<ID>` with the timestamp in Go's RFC3339Nano (fraction only when
non-zero, trailing zeros trimmed), sorted by the timestamp *string* descending then ID. ETags
come from the server (conditional GETs answer 304).
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

from tests.fakeregistry.server import NOT_FOUND, Request, Response


def rfc3339nano(moment: datetime) -> str:
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += ("." + f"{moment.microsecond:06d}").rstrip("0")
    return text + "Z"


class OsvBucketApp:
    """A mutable mirror: tests put records (and broken members) between syncs."""

    def __init__(self) -> None:
        self.folders: dict[str, dict[str, dict[str, Any]]] = {}
        self.broken_members: dict[str, dict[str, bytes]] = {}  # folder -> member -> bytes
        self.broken_json: dict[str, set[str]] = {}  # folder -> ids answered with garbage

    def put(self, record: dict[str, Any], *folders: str) -> None:
        """Add or replace a record in the folders of its ecosystems (or the ones given)."""
        names = folders or tuple(
            sorted({a["package"]["ecosystem"].split(":")[0] for a in record.get("affected", [])})
        )
        for folder in names:
            self.folders.setdefault(folder, {})[record["id"]] = record

    def csv(self, folder: str) -> bytes:
        rows = []
        for ident, record in self.folders.get(folder, {}).items():
            stamp = datetime.fromisoformat(record["modified"].replace("Z", "+00:00"))
            rows.append((rfc3339nano(stamp), ident))
        rows.sort(key=lambda row: row[1])
        rows.sort(key=lambda row: row[0], reverse=True)
        return "".join(f"{stamp},{ident}\n" for stamp, ident in rows).encode()

    def zip(self, folder: str) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for ident in sorted(self.folders.get(folder, {})):
                record = self.folders[folder][ident]
                archive.writestr(f"{ident}.json", json.dumps(record, separators=(",", ":")))
            for member, body in self.broken_members.get(folder, {}).items():
                archive.writestr(member, body)
        return out.getvalue()

    def handle(self, request: Request) -> Response:
        folder, _, leaf = request.path.lstrip("/").rpartition("/")
        if folder not in self.folders:
            return NOT_FOUND
        if leaf == "modified_id.csv":
            return Response(200, self.csv(folder), content_type="text/csv")
        if leaf == "all.zip":
            return Response(200, self.zip(folder), content_type="application/zip")
        if leaf.endswith(".json"):
            ident = leaf[: -len(".json")]
            if ident in self.broken_json.get(folder, set()):
                return Response(200, b'{"id": "' + ident.encode() + b'", "modified": ')
            record = self.folders[folder].get(ident)
            if record is None:
                return NOT_FOUND
            return Response(200, json.dumps(record, separators=(",", ":")).encode())
        return NOT_FOUND
