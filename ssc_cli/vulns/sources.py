"""Which vulnerability source is in force, and the inline attribution hook built on it."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ssc_cli.models import PackageRecord
from ssc_cli.settings import Settings

# The matcher and the CVSS parsers load at the first batch to attribute, not when an ingest
# starts: its first request comes sooner (issue 8).
if TYPE_CHECKING:
    from ssc_cli.vulns.attribute import Attributor
    from ssc_cli.vulns.interface import SourceInfo, VulnerabilitySource

log = logging.getLogger(__name__)


def open_source(settings: Settings) -> VulnerabilitySource:
    """MongoDB when SSC_VULN_DB_URI is set (SecureChain's production database), else the
    embedded OSV store of the data dir."""
    if settings.vuln_db_uri is not None:
        from ssc_cli.vulns.mongo import MongoSource

        password = settings.vuln_db_password
        return MongoSource(
            settings.vuln_db_uri.get_secret_value(),
            database=settings.vuln_db_name,
            collection=settings.vuln_db_collection,
            user=settings.vuln_db_user,
            password=password.get_secret_value() if password else None,
            timeout_ms=settings.vuln_db_timeout_ms,
        )
    from ssc_cli.vulns.osv import OsvStore

    return OsvStore(settings.osv_path)


class InlineAttribution:
    """The extraction path's hook: every batch of records gets its advisories before the write.

    Opens the source on first use. With the embedded store not synced yet there is nothing to
    attribute against: versions stay unattributed (the next `ssc vulns attribute` takes them),
    rather than being marked as checked against an empty database.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.attributor: Attributor | None = None
        self._source: VulnerabilitySource | None = None
        self._opened = False

    def __call__(self, records: Sequence[PackageRecord]) -> None:
        if not self._opened:
            self._opened = True
            self._source = self._open()
            if self._source is not None:
                from ssc_cli.vulns.attribute import Attributor

                self.attributor = Attributor(self._source)
        if self.attributor is not None:
            self.attributor.attribute_records(records)

    def _open(self) -> VulnerabilitySource | None:
        settings = self.settings
        if settings.vuln_db_uri is None:
            if not settings.osv_path.is_file():
                log.info(
                    "no OSV store at %s yet: versions are written unattributed", settings.osv_path
                )
                return None
            from ssc_cli.vulns.osv import OsvStore

            store = OsvStore(settings.osv_path)
            if store.count() == 0:
                store.close()
                return None
            return store
        return open_source(settings)

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None

    def report(self) -> dict[str, Any]:
        """The run summary's `vulnerabilities` field: the source and the attribution counters."""
        if self.attributor is None:
            if not self._opened:
                return {"skipped": "nothing written"}
            return {"skipped": f"no OSV records at {self.settings.osv_path} (ssc vulns sync)"}
        source = self.attributor.source
        return {
            "source": f"{source.kind} {source.target}",
            **self.attributor.stats.as_dict(),
            # MongoDB documents that did not validate or score (the embedded store's: none)
            "invalid_records": list(source.invalid),
            "rejected_vectors": list(source.rejected_vectors),
        }


def inline_report(hook: object) -> dict[str, Any] | None:
    """A run's `vulnerabilities` summary field; None when inline attribution is off."""
    return hook.report() if isinstance(hook, InlineAttribution) else None


@contextmanager
def inline_attribution(settings: Settings) -> Iterator[InlineAttribution | None]:
    """The hook for a run's options (None when SSC_VULNS_INLINE is off), closed after it."""
    hook = InlineAttribution(settings) if settings.vulns_inline else None
    try:
        yield hook
    finally:
        if hook is not None:
            hook.close()


def describe(info: SourceInfo, now: datetime | None = None) -> dict[str, Any]:
    """Doctor's view of a source: records per ecosystem and the age of the newest `modified`."""
    now = now or datetime.now(UTC)
    records = {s.ecosystem.value: s.records for s in info.stats}
    newest = {s.ecosystem.value: s.newest_modified for s in info.stats if s.newest_modified}
    age: int | None = None
    if newest:
        latest = max(datetime.fromisoformat(v.replace("Z", "+00:00")) for v in newest.values())
        if latest.tzinfo is None:
            latest = latest.replace(tzinfo=UTC)
        age = max(0, int((now - latest).total_seconds()))
    counts = ", ".join(f"{eco} {n}" for eco, n in records.items()) or "no records"
    detail = f"{info.kind}: {counts}"
    if age is not None:
        detail += f"; newest modified {_age(age)} ago"
    if not records:
        detail += "; run `ssc vulns sync` (or set SSC_VULN_DB_URI)" if info.kind == "osv" else ""
    return {
        "source": info.kind,
        "records": records,
        "newest_modified": newest,
        "newest_age_seconds": age,
        "detail": detail,
    }


def _age(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    if days:
        return f"{days}d {rest // 3600}h"
    return f"{rest // 3600}h {rest % 3600 // 60}m"
