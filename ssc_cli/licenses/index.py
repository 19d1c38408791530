"""What the classifier looks up in the synced SPDX list: ids, successors, names, licence URLs.

Built once per run from the stored License records, so a newer list changes what is recognised
(issue 11). The `Licensing` of license-expression is built from the same ids (exceptions marked),
never `get_spdx_licensing()`, whose bundled list lags the synced one (reference §7).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ssc_cli.licenses.names import ALIASES, gnu_only_key, name_key
from ssc_cli.models import LicenseRecord

# SPDX keeps deprecated ids for ever and states their successors only in prose (the licence
# pages and release notes); these are those statements. GNU ids follow one rule instead:
# X -> X-only, X+ -> X-or-later (see successor()).
_SUCCESSORS = {
    "BSD-2-Clause-FreeBSD": "BSD-2-Clause-Views",
    "BSD-2-Clause-NetBSD": "BSD-2-Clause",
    "bzip2-1.0.5": "bzip2-1.0.6",
    "eCos-2.0": "GPL-2.0-or-later WITH eCos-exception-2.0",
    "GPL-2.0-with-autoconf-exception": "GPL-2.0-only WITH Autoconf-exception-2.0",
    "GPL-2.0-with-bison-exception": "GPL-2.0-or-later WITH Bison-exception-2.2",
    "GPL-2.0-with-classpath-exception": "GPL-2.0-only WITH Classpath-exception-2.0",
    "GPL-2.0-with-font-exception": "GPL-2.0-only WITH Font-exception-2.0",
    "GPL-2.0-with-GCC-exception": "GPL-2.0-only WITH GCC-exception-2.0",
    "GPL-3.0-with-autoconf-exception": "GPL-3.0-only WITH Autoconf-exception-3.0",
    "GPL-3.0-with-GCC-exception": "GPL-3.0-only WITH GCC-exception-3.1",
    "Nunit": "zlib-acknowledgement",
    "StandardML-NJ": "SMLNJ",
    "wxWindows": "LGPL-2.0-or-later WITH WxWindows-exception-3.1",
}
_GNU = re.compile(r"^(A?GPL|LGPL|GFDL)-\d\.\d\+?$")


def normalise_url(url: str) -> str:
    """A licence URL without scheme, www., fragment, trailing slash, page suffix or legalcode."""
    text = url.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text).split("#", 1)[0]
    text = re.sub(r"^www\.", "", text).rstrip("/")
    text = re.sub(r"/[a-z]{2}-[a-z]{2}(?=/)", "", text)  # mozilla.org/en-US/MPL/1.1
    text = re.sub(r"/(legalcode(\.[a-z]+)?|deed\.[a-z-]+)$", "", text)
    text = re.sub(r"\.(html?|php|txt|md|shtml|aspx?)$", "", text)
    return text.rstrip("/")


@dataclass(frozen=True, slots=True)
class Known:
    """An SPDX id as the list describes it."""

    spdx_id: str
    osi: bool
    fsf: bool | None
    deprecated: bool


class LicenseIndex:
    """Ids (case-insensitive), exception ids, successors, name keys and the seeAlso URL index."""

    def __init__(self, records: Iterable[LicenseRecord], list_version: str) -> None:
        self.list_version = list_version
        self.licenses: dict[str, Known] = {}
        self.exceptions: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._exception_names: dict[str, str] = {}
        self._urls: dict[str, list[Known]] = {}
        self._pages: dict[tuple[str, str], list[Known]] = {}  # (host, last path segment)
        name_owners: dict[str, list[Known]] = {}
        for rec in records:
            if rec.is_exception:
                self.exceptions[rec.spdx_id.lower()] = rec.spdx_id
                for key in (name_key(rec.spdx_id), name_key(rec.name)):
                    self._exception_names.setdefault(key, rec.spdx_id)
                continue
            known = Known(rec.spdx_id, rec.osi_approved, rec.fsf_libre, rec.deprecated)
            self.licenses[rec.spdx_id.lower()] = known
            for key in {name_key(rec.spdx_id), name_key(rec.name)}:
                name_owners.setdefault(key, []).append(known)
            for url in rec.see_also:
                key = normalise_url(url)
                self._urls.setdefault(key, []).append(known)
                host, _, rest = key.partition("/")
                if rest:
                    page = (host, rest.rsplit("/", 1)[-1])
                    self._pages.setdefault(page, []).append(known)
        for key, owners in name_owners.items():
            chosen = _prefer_current(owners)
            if chosen is not None:
                self._names[key] = chosen.spdx_id
        self._licensing: Any = None

    # -- ids ----------------------------------------------------------------------------------

    def license(self, spdx_id: str) -> Known | None:
        return self.licenses.get(spdx_id.lower())

    def exception(self, spdx_id: str) -> str | None:
        return self.exceptions.get(spdx_id.lower())

    def successor(self, spdx_id: str) -> str:
        """The expression SPDX names in place of a deprecated id (the id itself otherwise)."""
        known = self.license(spdx_id)
        if known is None or not known.deprecated:
            return spdx_id
        target = _SUCCESSORS.get(known.spdx_id)
        if target is None and _GNU.match(known.spdx_id):
            base = known.spdx_id.rstrip("+")
            target = f"{base}-or-later" if known.spdx_id.endswith("+") else f"{base}-only"
        if target is None:
            return known.spdx_id
        # Only when the list in force has every id the successor names.
        for token in re.split(r"\s+WITH\s+", target):
            if self.license(token) is None and self.exception(token) is None:
                return known.spdx_id
        return target

    @property
    def licensing(self) -> Any:
        """license-expression's parser over exactly these ids (built on first use)."""
        if self._licensing is None:
            from license_expression import LicenseSymbol, Licensing

            symbols = [LicenseSymbol(k.spdx_id) for k in self.licenses.values()]
            symbols += [LicenseSymbol(e, is_exception=True) for e in self.exceptions.values()]
            self._licensing = Licensing(symbols)
        return self._licensing

    # -- names --------------------------------------------------------------------------------

    def by_name(self, text: str) -> str | None:
        """The SPDX id (or @family / @public-domain) a free-text licence name means, or None."""
        found = self._by_key(name_key(text))
        if found is None and "(" in text:
            # "Expat (MIT/X11)": the name outside the parentheses.
            found = self._by_key(name_key(re.sub(r"\([^)]*\)", " ", text)))
        return found

    def _by_key(self, key: str) -> str | None:
        if not key:
            return None
        found = ALIASES.get(key) or self._names.get(key)
        if found is None:
            only = gnu_only_key(key)
            if only is not None:
                found = self._names.get(only)
        return found

    def exception_by_name(self, text: str) -> str | None:
        from ssc_cli.licenses.names import EXCEPTION_ALIASES

        key = name_key(text)
        found = EXCEPTION_ALIASES.get(key) or self._exception_names.get(key)
        if found is None and not key.endswith("exception"):
            found = self._exception_names.get(f"{key} exception")
        return found

    # -- URLs ---------------------------------------------------------------------------------

    def by_url(self, url: str) -> list[str]:
        """SPDX ids a licence URL names: seeAlso entries, then id-named pages (OSI, SPDX, GNU, CC)."""
        key = normalise_url(url)
        owners = self._urls.get(key)
        if owners:
            chosen = _prefer_current(owners, successor=self.successor)
            return [chosen.spdx_id] if chosen else [o.spdx_id for o in owners]
        token = _id_in_path(key)
        if token is not None:
            known = self.license(token)
            if known is not None:
                return [known.spdx_id]
            named = self.by_name(token)
            if named:
                return [named]
        host, _, rest = key.partition("/")
        if not rest:
            return []
        last = rest.rsplit("/", 1)[-1]
        # The same page name on the host of a seeAlso URL (eclipse.org/.../epl-v10).
        owners = self._pages.get((host, last))
        if owners:
            chosen = _prefer_current(owners, successor=self.successor)
            if chosen is not None:
                return [chosen.spdx_id]
        # A page named by an id or a licence name (.../EPL-2.0.txt, .../apache2.0).
        known = self.license(last)
        if known is not None and len(last) >= 3:
            return [known.spdx_id]
        named = self.by_name(last)
        return [named] if named else []


def _prefer_current(owners: list[Known], successor: Any = None) -> Known | None:
    """One id among several claiming a name or URL: the only current one, a deprecated id's
    successor, or the base licence whose id prefixes all the others; else None (ambiguous)."""
    unique = {k.spdx_id: k for k in owners}
    if len(unique) == 1:
        return next(iter(unique.values()))
    current = [k for k in unique.values() if not k.deprecated]
    if len(current) == 1:
        return current[0]
    if successor is not None:
        for old in (k for k in unique.values() if k.deprecated):
            target = unique.get(successor(old.spdx_id))
            if target is not None:
                return target
    shortest = min(current, key=lambda k: len(k.spdx_id), default=None)
    if shortest is not None and all(k.spdx_id.startswith(shortest.spdx_id) for k in current):
        return shortest
    return None


_ID_PAGES = (
    re.compile(r"^opensource\.org/licen[cs]es?/([^/?]+)$"),
    re.compile(r"^spdx\.org/licenses/([^/?]+?)(\.json)?$"),
    re.compile(r"^(?:raw\.githubusercontent|github)\.com/spdx/license-list-data/.*/([^/?]+)$"),
)
_GNU_PAGE = re.compile(
    r"^gnu\.org/(?:licenses/(?:old-licenses/)?)(a?gpl|lgpl|fdl)-(\d\.\d)(?:-standalone)?$"
)
_CC_PAGE = re.compile(r"^creativecommons\.org/licenses/([a-z-]+)/(\d\.\d)(?:/[a-z]{2})?$")


def _id_in_path(key: str) -> str | None:
    """The licence token of a page whose path names it (opensource.org/licenses/MIT, ...)."""
    for pattern in _ID_PAGES:
        match = pattern.match(key)
        if match:
            token = unquote(match.group(1))
            return re.sub(r"-license$", "", token)
    gnu = _GNU_PAGE.match(key)
    if gnu:
        family = "GFDL" if gnu.group(1) == "fdl" else gnu.group(1).upper()
        return f"{family}-{gnu.group(2)}-only"
    # .../licenses/cc0-1.0.txt: a licence folder whose file is named by an SPDX id.
    segments = key.split("/")
    if len(segments) >= 3 and segments[-2] in ("licenses", "license", "licences"):
        return segments[-1]
    cc = _CC_PAGE.match(key)
    if cc:
        return f"CC-{cc.group(1).upper()}-{cc.group(2)}"
    if key == "creativecommons.org/publicdomain/zero/1.0":
        return "CC0-1.0"
    return None


def host_of(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""
