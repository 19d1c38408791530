"""The SPDX licence list: fetched (URL through the shared HTTP layer, or a local path), validated
with pydantic where it enters, and checked by the runtime guards before anything is written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ssc_cli.errors import ConfigError, MalformedPayload, QualityGateError
from ssc_cli.models import LicenseListInfo, LicenseRecord

LICENSES_FILE, EXCEPTIONS_FILE = "licenses.json", "exceptions.json"
DEFAULT_SPDX_URL = "https://spdx.org/licenses/"


class SpdxLicense(BaseModel):
    model_config = ConfigDict(extra="ignore")

    licenseId: str = Field(min_length=1)
    name: str = ""
    isDeprecatedLicenseId: bool = False
    isOsiApproved: bool = False
    isFsfLibre: bool | None = None  # optional in the list: absent is not False
    seeAlso: list[str] = Field(default_factory=list)


class SpdxException(BaseModel):
    model_config = ConfigDict(extra="ignore")

    licenseExceptionId: str = Field(min_length=1)
    name: str = ""
    isDeprecatedLicenseId: bool = False
    seeAlso: list[str] = Field(default_factory=list)


class SpdxLicenses(BaseModel):
    model_config = ConfigDict(extra="ignore")

    licenseListVersion: str = Field(min_length=1)
    releaseDate: str | None = None
    licenses: list[SpdxLicense]


class SpdxExceptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    licenseListVersion: str = Field(min_length=1)
    releaseDate: str | None = None
    exceptions: list[SpdxException]


@dataclass(frozen=True, slots=True)
class LicenseList:
    """One release of the list, ready to store."""

    version: str
    release_date: str | None
    records: tuple[LicenseRecord, ...]

    @property
    def licenses(self) -> int:
        return sum(1 for r in self.records if not r.is_exception)

    @property
    def osi_approved(self) -> int:
        return sum(1 for r in self.records if not r.is_exception and r.osi_approved)

    @property
    def exceptions(self) -> int:
        return sum(1 for r in self.records if r.is_exception)


def parse_list(licenses_body: bytes, exceptions_body: bytes, where: str) -> LicenseList:
    """Both files validated; MalformedPayload names the file and what is wrong with it."""
    try:
        licenses = SpdxLicenses.model_validate(json.loads(licenses_body))
    except (ValueError, ValidationError) as exc:
        raise MalformedPayload(
            f"{where}{LICENSES_FILE}: not an SPDX licence list ({_first(exc)})"
        ) from None
    try:
        exceptions = SpdxExceptions.model_validate(json.loads(exceptions_body))
    except (ValueError, ValidationError) as exc:
        raise MalformedPayload(
            f"{where}{EXCEPTIONS_FILE}: not an SPDX exception list ({_first(exc)})"
        ) from None
    if exceptions.licenseListVersion != licenses.licenseListVersion:
        raise MalformedPayload(
            f"{where}: {LICENSES_FILE} is list {licenses.licenseListVersion} but "
            f"{EXCEPTIONS_FILE} is {exceptions.licenseListVersion}; fetch both from one release"
        )
    records = [
        LicenseRecord(
            spdx_id=lic.licenseId.strip(),
            name=lic.name,
            osi_approved=lic.isOsiApproved,
            fsf_libre=lic.isFsfLibre,
            deprecated=lic.isDeprecatedLicenseId,
            see_also=tuple(lic.seeAlso),
        )
        for lic in licenses.licenses
    ]
    records += [
        LicenseRecord(
            spdx_id=exc.licenseExceptionId.strip(),
            name=exc.name,
            deprecated=exc.isDeprecatedLicenseId,
            see_also=tuple(exc.seeAlso),
            is_exception=True,
        )
        for exc in exceptions.exceptions
    ]
    unique = {(r.is_exception, r.spdx_id): r for r in records}  # a repeated id: the last wins
    return LicenseList(
        licenses.licenseListVersion.strip(), licenses.releaseDate, tuple(unique.values())
    )


def _first(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
    return str(exc)


def source_kind(source: str) -> tuple[str, str]:
    """("url", base URL ending in /) or ("path", directory) of an SSC_SPDX_URL value."""
    text = source.strip()
    if not text:
        raise ConfigError("SSC_SPDX_URL is empty; set it to the SPDX JSON location or a folder")
    parts = urlsplit(text)
    if parts.scheme in ("http", "https"):
        if text.endswith(".json"):
            return "url", text.rsplit("/", 1)[0] + "/"
        return "url", text if text.endswith("/") else text + "/"
    if parts.scheme == "file":
        text = unquote(parts.path)
    elif parts.scheme and len(parts.scheme) > 1:
        raise ConfigError(
            f"SSC_SPDX_URL {source!r}: use an http(s):// URL of the folder holding "
            f"{LICENSES_FILE} and {EXCEPTIONS_FILE}, or a local folder"
        )
    path = Path(text)
    folder = path.parent if path.suffix == ".json" else path
    return "path", str(folder)


def read_local(folder: str) -> LicenseList:
    base = Path(folder)
    try:
        licenses = (base / LICENSES_FILE).read_bytes()
        exceptions = (base / EXCEPTIONS_FILE).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the SPDX list in {base}: {exc}; the folder must hold "
            f"{LICENSES_FILE} and {EXCEPTIONS_FILE} (check SSC_SPDX_URL)"
        ) from None
    try:
        return parse_list(licenses, exceptions, f"{base}/")
    except MalformedPayload as exc:  # a local file is configuration, not a registry answer
        raise ConfigError(f"{exc}; check SSC_SPDX_URL") from None


@dataclass(frozen=True, slots=True)
class Guards:
    """Refuse a list far smaller than the stored one (a broken mirror, a truncated download)."""

    min_ratio: float = 0.9  # of the stored list's licences and OSI-approved licences

    def check(self, new: LicenseList, stored: LicenseListInfo | None) -> None:
        if new.licenses == 0:
            raise QualityGateError(
                f"SPDX list {new.version} has no licences; nothing was written (check SSC_SPDX_URL)"
            )
        if new.osi_approved == 0:
            raise QualityGateError(
                f"SPDX list {new.version} has no OSI-approved licence; nothing was written "
                "(check SSC_SPDX_URL)"
            )
        if stored is None:
            return
        for what, have, got in (
            ("licences", stored.licenses, new.licenses),
            ("OSI-approved licences", stored.osi_approved, new.osi_approved),
        ):
            if have and got < have * self.min_ratio:
                raise QualityGateError(
                    f"SPDX list {new.version} has {got} {what}, the stored list "
                    f"{stored.version} {have} (floor {self.min_ratio:.0%}); nothing was "
                    "written. Check SSC_SPDX_URL, or lower SSC_SPDX_MIN_RATIO if SPDX really "
                    "shrank its list"
                )
