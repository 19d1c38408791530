"""Normalise source-repository URLs to https://host/owner/repo; the owner is the vendor."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_HOSTS = {"github.com", "gitlab.com", "bitbucket.org"}
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")
_SHORTHAND = re.compile(r"^(github|gitlab|bitbucket):([^/\s]+)/([^/\s#]+)")
_SHORTHAND_HOSTS = {"github": "github.com", "gitlab": "gitlab.com", "bitbucket": "bitbucket.org"}


def normalize_repository_url(url: str | None) -> str | None:
    """https://host/owner/repo for GitHub, GitLab and Bitbucket URLs in any common spelling."""
    if not url or not isinstance(url, str):
        return None
    text = url.strip()
    short = _SHORTHAND.match(text)
    if short:
        host, owner, repo = _SHORTHAND_HOSTS[short.group(1)], short.group(2), short.group(3)
        return _build(host, owner, repo)
    text = text.removeprefix("git+")
    scp = re.match(r"^[\w.-]+@([\w.-]+):(.+)$", text)  # git@github.com:owner/repo.git
    if scp:
        text = f"https://{scp.group(1)}/{scp.group(2)}"
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError:  # an unbalanced `[` or `]` (urllib: "Invalid IPv6 URL"); found by atheris
        return None
    host = (parts.hostname or "").lower().removeprefix("www.")
    if host not in _HOSTS:
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2:
        return None
    return _build(host, segments[0], segments[1])


def _build(host: str, owner: str, repo: str) -> str | None:
    repo = repo.removesuffix(".git")
    if not (_SEGMENT.match(owner) and _SEGMENT.match(repo)) or repo in (".", ".."):
        return None
    return f"https://{host}/{owner}/{repo}"


def vendor_of(repository_url: str | None) -> str:
    """The repository owner, or n/a."""
    if not repository_url or repository_url == "n/a":
        return "n/a"
    return repository_url.rstrip("/").split("/")[-2]
