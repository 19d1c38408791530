"""Free-text licence names and whole licence texts: the spellings registries carry that are not SPDX ids.

A name is reduced to a key (lower case, "licence" spelled "license", the words "the", "license",
"software", "version" and punctuation dropped, common abbreviations spelled out, a bare integer
version written N.0) and looked up among the keys of the synced list's ids and names, then in
the small table below of spellings the SPDX names do not produce. Families ("BSD", "GPL") name
no single licence; the classifier decides them from the flags of their members.
"""

from __future__ import annotations

import functools
import re

# Abbreviations spelled out before lookup, so "EPL 2.0" meets "Eclipse Public License 2.0".
_EXPANSIONS = {
    "asl": "apache",
    "apl": "apache",
    "asf": "apache",
    "alv2": "apache 2.0",
    "aslv2": "apache 2.0",
    "apache2": "apache 2.0",
    "epl": "eclipse public",
    "edl": "eclipse distribution",
    "mpl": "mozilla public",
    "cddl": "common development and distribution",
    "cpl": "common public",
    "gpl": "gnu general public",
    "lgpl": "gnu lesser general public",
    "agpl": "gnu affero general public",
    "fdl": "gnu free documentation",
    "gfdl": "gnu free documentation",
    "eupl": "european union public",
    "bsl": "boost",
    "psf": "python foundation",
    "zpl": "zope public",
    "afl": "academic free",
    "osl": "open",
}
_GLUED_VERSION = re.compile(
    r"\b(gpl|lgpl|agpl|mpl|epl|edl|apache|asl|cddl|eupl|afl|osl|bsd|fdl|gfdl|zpl|cpl|v)v?"
    r"(\d+(?:\.\d+)*)\b"
)
_PAREN = re.compile(r"\(\s*[a-z][a-z0-9]*(?:\s*v?\d+(?:\.\d+)*\+?)?\s*\)")
_DROPPED = {"the", "license", "licensed", "software", "version", "ver", "v", "of", "under"}

# Spellings seen in registries that no SPDX id or name reduces to (keys, see name_key).
ALIASES: dict[str, str] = {
    "apache": "@apache",
    "apache 2.0": "Apache-2.0",
    "apache public 2.0": "Apache-2.0",
    "apache foundation 2.0": "Apache-2.0",
    "mit": "MIT",
    "expat": "MIT",
    "mit expat": "MIT",
    "x11": "X11",
    "bsd": "@bsd",
    "bsdl": "@bsd",
    "2 clause bsdl": "BSD-2-Clause",
    "psfl": "PSF-2.0",
    "new bsd": "BSD-3-Clause",
    "bsd new": "BSD-3-Clause",
    "revised bsd": "BSD-3-Clause",
    "modified bsd": "BSD-3-Clause",
    "bsd 3 clause": "BSD-3-Clause",
    "3 clause bsd": "BSD-3-Clause",
    "bsd 3": "BSD-3-Clause",
    "simplified bsd": "BSD-2-Clause",
    "freebsd": "BSD-2-Clause",
    "bsd 2 clause": "BSD-2-Clause",
    "2 clause bsd": "BSD-2-Clause",
    "bsd 2": "BSD-2-Clause",
    "bsd 4 clause": "BSD-4-Clause",
    "original bsd": "BSD-4-Clause",
    # SPDX: the Eclipse Distribution License 1.0 is the BSD-3-Clause text (seeAlso of BSD-3-Clause).
    "eclipse distribution 1.0": "BSD-3-Clause",
    "gnu general public": "@gpl",
    "gnu lesser general public": "@lgpl",
    "gnu library or lesser general public": "@lgpl",
    "gnu affero general public": "@agpl",
    "mozilla public": "@mpl",
    "eclipse public": "@epl",
    "common development and distribution": "@cddl",
    "artistic": "@artistic",
    "european union public": "@eupl",
    "isc": "ISC",
    "iscl": "ISC",
    "zlib": "Zlib",
    "zlib libpng": "Zlib",
    "boost": "BSL-1.0",
    "boost 1.0": "BSL-1.0",
    "python foundation": "PSF-2.0",
    "python foundation 2.0": "PSF-2.0",
    "unlicense": "Unlicense",
    "wtfpl": "WTFPL",
    "cc0": "CC0-1.0",
    "cc0 1.0": "CC0-1.0",
    "cc0 1.0 universal": "CC0-1.0",
    "creative commons zero 1.0": "CC0-1.0",
    "public domain": "@public-domain",
    "public domain dedication": "@public-domain",
}

# Members of each family: the family is open when every member is (issue 11; reference §9.1).
FAMILIES: dict[str, tuple[str, ...]] = {
    "@apache": ("Apache-1.1", "Apache-2.0"),
    "@bsd": ("BSD-2-Clause", "BSD-3-Clause"),
    "@gpl": ("GPL-2.0-only", "GPL-3.0-only"),
    "@lgpl": ("LGPL-2.1-only", "LGPL-3.0-only"),
    "@agpl": ("AGPL-3.0-only",),
    "@mpl": ("MPL-1.1", "MPL-2.0"),
    "@epl": ("EPL-1.0", "EPL-2.0"),
    "@cddl": ("CDDL-1.0", "CDDL-1.1"),
    "@artistic": ("Artistic-1.0", "Artistic-2.0"),
    "@eupl": ("EUPL-1.1", "EUPL-1.2"),
}
PUBLIC_DOMAIN = "@public-domain"

_GNU_BASES = (
    "gnu general public",
    "gnu lesser general public",
    "gnu library general public",
    "gnu affero general public",
    "gnu free documentation",
)


@functools.lru_cache(maxsize=65_536)
def name_key(text: str) -> str:
    """The lookup key of a licence name or id (see the module docstring)."""
    text = text.lower().replace("licence", "license").replace("\u00a0", " ")
    # "Common Development and Distribution License (CDDL) Version 1.0": the abbreviation in
    # parentheses repeats the name; dropped when a name of two words or more stays outside.
    outside = _PAREN.sub(" ", text)
    if len(outside.split()) >= 2:
        text = outside
    text = re.sub(r"\bor (any )?later( version)?\b|\+", " or later ", text)
    text = re.sub(r"[,;:()\"'`\[\]{}*/!?_]|(?<!\d)\.|\.(?!\d)|-", " ", text)
    # GPLv2, MPL2.0, v2 -> gpl 2, mpl 2.0, 2
    text = _GLUED_VERSION.sub(r"\1 \2", text)
    words = []
    for word in text.split():
        if word in _DROPPED:
            continue
        words.extend(_EXPANSIONS.get(word, word).split())
    words = [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]  # "gnu gnu ..."
    for i, word in enumerate(words):
        # A bare major version ("Apache 2", "LGPLv3+") is written N.0, as SPDX names are.
        following = words[i + 1] if i + 1 < len(words) else None
        if re.fullmatch(r"\d+", word) and following in (None, "or", "only"):
            words[i] = f"{word}.0"
    return " ".join(words)


def gnu_only_key(key: str) -> str | None:
    """A GNU licence name without "only" or "or later" means "only" (SPDX's old bare ids)."""
    if key.endswith((" only", " or later")):
        return None
    for base in _GNU_BASES:
        if re.fullmatch(rf"{base} \d\.\d", key):
            return f"{key} only"
    return None


# Operators between licence names in free text (a POM's "CDDL + GPLv2", "MIT or Apache 2.0").
_NAME_SPLIT = re.compile(r"\s+(?:\+|or|/|and/or)\s+|\s*/\s*", re.IGNORECASE)
_NAME_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_WITH = re.compile(r"\s+(?:with|w/|plus)\s+(?:the\s+)?", re.IGNORECASE)


def split_alternatives(text: str) -> list[str]:
    """A free-text name offering a choice, split into the names offered (one part: no choice)."""
    return [part for part in _NAME_SPLIT.split(text) if part.strip()]


def split_conjunction(text: str) -> list[str]:
    return [part for part in _NAME_AND.split(text) if part.strip()]


def split_with(text: str) -> tuple[str, str | None]:
    """ "GPLv2 with Classpath exception" -> ("GPLv2", "Classpath exception")."""
    parts = _WITH.split(text, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else (text, None)


# Exceptions named in free text; the rest are looked up by their SPDX names.
EXCEPTION_ALIASES = {
    "cpe": "Classpath-exception-2.0",
    "classpath": "Classpath-exception-2.0",
    "classpath exception": "Classpath-exception-2.0",
    "gnu classpath exception": "Classpath-exception-2.0",
    "classpath linking exception": "Classpath-exception-2.0",
}


# -- whole licence texts ----------------------------------------------------------------------

# Distinctive sentences or titles of licence texts pasted into a metadata field; a text is
# recognised, never parsed: it names the licence it is the text of, or nothing.
_TEXTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), target)
    for pattern, target in (
        (r"apache license\s*,?\s*version 2\.0", "Apache-2.0"),
        (r"this is free and unencumbered software released into the public domain", "Unlicense"),
        (r"mozilla public license,? (version|v\.?) ?2\.0", "MPL-2.0"),
        (r"gnu affero general public license", "@agpl"),
        (r"gnu lesser general public license", "@lgpl"),
        (r"gnu library general public license", "@lgpl"),
        (r"gnu general public license", "@gpl"),
        (r"eclipse public license", "@epl"),
        (r"python software foundation license", "PSF-2.0"),
        (r"boost software license", "BSL-1.0"),
        (
            r"permission is hereby granted, free of charge, to any person obtaining a copy"
            r"[\s\S]*the above copyright notice and this permission notice shall be included",
            "MIT",
        ),
        (
            r"permission to use, copy, modify, and(/or)? distribute this software for any "
            r"purpose with or without fee is hereby granted, provided that the above copyright",
            "ISC",
        ),
        (
            r"permission to use, copy, modify, and(/or)? distribute this software for any "
            r"purpose with or without fee is hereby granted",
            "0BSD",
        ),
    )
)
_BSD_GRANT = re.compile(r"redistribution and use in source and binary forms")


def recognise_text(text: str) -> str | None:
    """The SPDX id (or @family) a pasted licence text is the text of, or None."""
    flat = re.sub(r"\s+", " ", text.lower())
    for pattern, target in _TEXTS:
        if pattern.search(flat):
            return target
    if _BSD_GRANT.search(flat):
        if "advertising materials" in flat:
            return "BSD-4-Clause"
        if "endorse or promote" in flat:
            return "BSD-3-Clause"
        return "BSD-2-Clause"
    return None


# Words that mark a licence as proprietary when a short free text says so.
PROPRIETARY_WORDS = re.compile(
    r"\b(proprietary|commercial|all rights reserved|closed[- ]source|eula|"
    r"end[- ]user license agreement|confidential|not open[- ]source)\b",
    re.IGNORECASE,
)
