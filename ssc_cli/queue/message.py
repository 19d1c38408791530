"""The extraction request on the stream: depex's PackageMessageSchema, accepted as depex sends it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from ssc_cli import json_payload, registries
from ssc_cli.graph.interface import key_problem
from ssc_cli.models import Ecosystem

# Why an entry went to the dead-letter stream (the `reason` field there).
INVALID_JSON, INVALID_MESSAGE, UNSUPPORTED_TYPE, NO_DATA, FAILED, TRIMMED = (
    "invalid_json",
    "invalid_message",
    "unsupported_type",
    "no_data",
    "failed",
    "trimmed",
)


class ExtractionMessage(BaseModel):
    """One request: extract `package` of `node_type`, then link it under `parent_id`."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, populate_by_name=True)

    node_type: str = Field(min_length=1)
    package: str = Field(min_length=1)
    vendor: str | None = "n/a"  # ignored: the registry says who the vendor is
    # depex defaults it to "n/a" and sends null; the old consumer's HttpUrl rejected "n/a"
    # (securechain-compat.md §3). Ignored like vendor, but still checked to be a URL.
    repository_url: str | None = None
    constraints: str | None = None
    parent_id: str | None = None
    # The old consumer passed `parent_version` to an extractor that only knew
    # `parent_version_name` (§6-4): both spellings are accepted here.
    parent_version: str | None = Field(
        None, validation_alias=AliasChoices("parent_version", "parent_version_name")
    )
    refresh: bool = False

    @field_validator("parent_id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("repository_url")
    @classmethod
    def _url_or_na(cls, value: str | None) -> str | None:
        if value is None or value in ("", "n/a"):
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError('must be an http(s) URL, "n/a" or null')
        return value

    def ecosystem(self) -> Ecosystem | None:
        """The ecosystem of node_type (`PyPIPackage`, …), None when ssc does not know it."""
        try:
            return Ecosystem.parse(self.node_type)
        except ValueError:
            return None

    def to_fields(self) -> dict[str, str]:
        """The stream entry: field `data` with the JSON depex produces."""
        data = self.model_dump(mode="json")
        data["vendor"] = data["vendor"] or "n/a"
        return {"data": json.dumps(data, sort_keys=True)}

    @classmethod
    def request(
        cls,
        ecosystem: Ecosystem,
        name: str,
        *,
        constraints: str | None = None,
        parent_id: str | None = None,
        parent_version: str | None = None,
        refresh: bool = False,
    ) -> ExtractionMessage:
        return cls(
            node_type=ecosystem.label,
            package=name,
            constraints=constraints,
            parent_id=parent_id,
            parent_version=parent_version,
            refresh=refresh,
        )


@dataclass(slots=True)
class Rejected:
    """An entry that can never succeed: straight to the dead-letter stream."""

    reason: str
    error: str


def parse_entry(fields: dict[str, str]) -> ExtractionMessage | Rejected:
    """Validate one stream entry; the error names the offending field."""
    raw = fields.get("data")
    if raw is None:
        return Rejected(NO_DATA, f"entry has no `data` field (fields: {sorted(fields)})")
    try:
        payload = json_payload.loads(raw)
    except json.JSONDecodeError as exc:
        return Rejected(INVALID_JSON, f"`data` is not JSON: {exc}")
    if not isinstance(payload, dict):
        return Rejected(
            INVALID_MESSAGE, f"`data` must be a JSON object, got {type(payload).__name__}"
        )
    try:
        message = ExtractionMessage.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'data'}: {err['msg']}"
            for err in exc.errors()
        )
        return Rejected(INVALID_MESSAGE, f"invalid message: {problems}")
    eco = message.ecosystem()
    if eco is None:
        return Rejected(UNSUPPORTED_TYPE, f"unsupported node_type {message.node_type!r}")
    problem = registries.name_problem(eco, message.package) or key_problem(
        eco, eco.normalize_name(message.package)
    )
    if problem is not None:  # never fetched, and never linked to its parent either
        return Rejected(INVALID_MESSAGE, f"package: {problem}")
    return message
