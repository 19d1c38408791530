"""The VulnerabilitySource protocol and the advisory record ssc uses internally (OSV-shaped).

Records are validated where they enter (a file, a zip member, a MongoDB document) into these
pydantic models; every field matching and scoring read is here, anything else is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ssc_cli.errors import SscError
from ssc_cli.models import Ecosystem


class VulnSourceUnavailable(SscError):
    """The vulnerability source (the embedded OSV store, MongoDB) cannot be read."""

    exit_code = 5


class InvalidRecord(ValueError):
    """An OSV record that does not validate; the message says which field and why."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Event(_Model):
    """Exactly one of the four (OSV schema, affected[].ranges[].events[])."""

    introduced: str | None = None
    fixed: str | None = None
    last_affected: str | None = None
    limit: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Event:
        kinds = [k for k in ("introduced", "fixed", "last_affected", "limit") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError(
                f"an event has exactly one of introduced/fixed/last_affected/limit, not {kinds or 'none'}"
            )
        return self

    @property
    def kind(self) -> str:
        for name in ("introduced", "fixed", "last_affected"):
            if getattr(self, name):
                return name
        return "limit"

    @property
    def value(self) -> str:
        return str(self.introduced or self.fixed or self.last_affected or self.limit)


class Range(_Model):
    type: str
    repo: str | None = None
    events: list[Event] = Field(default_factory=list)


class Package(_Model):
    ecosystem: str
    name: str
    purl: str | None = None


class Severity(_Model):
    """A vector string; `base_score` is SecureChain's MongoDB enrichment, used when present."""

    type: str
    score: str = ""
    base_score: float | None = None


class Affected(_Model):
    package: Package | None = None
    severity: list[Severity] = Field(default_factory=list)
    ranges: list[Range] = Field(default_factory=list)
    versions: list[str] = Field(default_factory=list)

    @field_validator("severity", "ranges", "versions", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class Advisory(_Model):
    """One OSV record, as far as attribution reads it."""

    id: str = Field(min_length=1)
    modified: datetime
    schema_version: str | None = None
    published: datetime | None = None
    withdrawn: datetime | None = None
    aliases: list[str] = Field(default_factory=list)
    summary: str | None = None
    details: str | None = None
    severity: list[Severity] = Field(default_factory=list)
    affected: list[Affected] = Field(default_factory=list)

    @field_validator("aliases", "severity", "affected", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("modified", "published", "withdrawn")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # MongoDB hands back naive UTC datetimes
        return value

    @field_validator("schema_version")
    @classmethod
    def _major_one(cls, value: str | None) -> str | None:
        # Absent means 1.0.0; minor and patch releases only add fields (pip-audit does the same).
        if value and value.split(".", 1)[0] != "1":
            raise ValueError(f"schema_version {value} is not 1.x; ssc reads OSV schema 1")
        return value

    @property
    def modified_text(self) -> str:
        return iso(self.modified)


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: sorts as text in time order (unlike modified_id.csv)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_advisory(data: Any) -> Advisory:
    """Validate one record; InvalidRecord names the first problem."""
    if not isinstance(data, Mapping):
        raise InvalidRecord(f"not a JSON object but {type(data).__name__}")
    try:
        return Advisory.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "record"
        ident = data.get("id") if isinstance(data.get("id"), str) else None
        prefix = f"{ident}: " if ident else ""
        raise InvalidRecord(f"{prefix}{where}: {first['msg']}") from None


@dataclass(frozen=True, slots=True)
class EcosystemStats:
    """What a source holds for one ecosystem (doctor, ssc status)."""

    ecosystem: Ecosystem
    records: int
    newest_modified: str | None


@dataclass(slots=True)
class Changes:
    """Packages named by advisories changed since a cursor; names None means every package."""

    names: set[str] | None
    cursor: dict[str, Any]
    records: int = 0


@dataclass(slots=True)
class SourceInfo:
    kind: str  # "osv" (embedded) or "mongodb"
    target: str  # a path, or the URI with its password redacted
    stats: list[EcosystemStats] = field(default_factory=list)


class VulnerabilitySource(Protocol):
    """Where advisories come from: the embedded OSV store or SecureChain's MongoDB (read-only)."""

    kind: str
    target: str
    # Bad input met while reading, named in the `vulns attribute` summary (exit 1): records that
    # do not validate, and {"id", "reason"} of vectors the cvss package rejects. The embedded
    # store validated its records at sync (whose summary named them), so it reports none here;
    # MongoDB documents enter ssc only when attribution reads them.
    invalid: list[str]
    rejected_vectors: list[dict[str, str]]

    def advisories(self, ecosystem: Ecosystem, names: Sequence[str]) -> dict[str, list[Advisory]]:
        """Advisories with an affected entry naming each package (graph spelling), keyed by that
        name; one query for the whole batch. Withdrawn ones included (the matcher drops them)."""
        ...

    def get(self, advisory_id: str) -> Advisory | None:
        """One advisory by id (or by one of its aliases when no record has that id)."""
        ...

    def changes(self, ecosystem: Ecosystem, cursor: Mapping[str, Any] | None) -> Changes:
        """Package names (match spelling) of records changed after the cursor; None: all."""
        ...

    def info(self) -> SourceInfo:
        """Record count and newest `modified` per ecosystem."""
        ...

    def close(self) -> None: ...
