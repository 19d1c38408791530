"""Where ssc may connect: the hosts of the URL settings and SSC_HTTP_ALLOWED_HOSTS, nothing else.

Payloads name URLs (wheel and tarball links, NuGet catalog pages, redirects); anyone who can
publish a package writes them. Every request and every redirect hop is checked here before a
connection is opened, so a payload cannot steer ssc to a cloud metadata address, a service on
the loopback interface or a file (issue 15, "where ssc may connect").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Target:
    """Where one request would go, as the HTTP client itself parsed the URL."""

    scheme: str
    host: str  # lower-case ASCII (IDNA), no brackets, no trailing dot
    port: int | None  # None: the scheme has no default port
    userinfo: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """One allowed host (or `*.domain`), on one port or on the web's default ports."""

    host: str
    port: int | None = None  # None: 80 and 443
    wildcard: bool = False  # host is a domain suffix: any name below it

    def matches(self, target: Target) -> bool:
        if self.port is None:
            if target.port not in (80, 443):
                return False
        elif target.port != self.port:
            return False
        if self.wildcard:
            return target.host.endswith("." + self.host)
        return target.host == self.host

    def __str__(self) -> str:
        host = ("*." if self.wildcard else "") + (
            f"[{self.host}]" if ":" in self.host else self.host
        )
        return host if self.port is None else f"{host}:{self.port}"


def normalize_host(host: str) -> str:
    """Lower-case ASCII form of a host name or address, as compared by the policy."""
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return host


def parse_rule(entry: str) -> Rule:
    """`host`, `host:port`, `*.domain`, `[v6]:port` or a URL (its host and port). ValueError if
    the entry names no host."""
    text = entry.strip()
    if "://" in text:
        scheme, _, rest = text.partition("://")
        authority = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        host, port = _split_port(authority)
        if port is None:
            port = DEFAULT_PORTS.get(scheme.lower())
    else:
        host, port = _split_port(text)
    wildcard = host.startswith("*.")
    if wildcard:
        host = host[2:]
    host = normalize_host(host)
    if not host or "*" in host or "/" in host:
        raise ValueError(f"{entry!r} is not a host, host:port or *.domain")
    return Rule(host, port, wildcard)


def _split_port(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif authority.count(":") == 1:
        host, _, port_text = authority.partition(":")
    else:
        host, port_text = authority, ""
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{authority!r}: bad port {port_text!r}")
    return host, int(port_text)


def _address_kind(host: str) -> str | None:
    """'a loopback address' and the like for IP literals (and localhost) outside the public web."""
    if host == "localhost" or host.endswith(".localhost"):
        return "a loopback name"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for attribute, label in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_unspecified", "an unspecified address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, attribute):
            return label
    return "an IP address"


@dataclass(frozen=True)
class EgressPolicy:
    """The allowed rules; `refusal` says why a target is not among them (None: allowed)."""

    rules: tuple[Rule, ...] = ()
    setting: str = "SSC_HTTP_ALLOWED_HOSTS"

    @classmethod
    def build(cls, configured: Iterable[Target], entries: Iterable[str]) -> EgressPolicy:
        """Rules from the hosts of configured URLs (exact host and port) and allow-list entries."""
        rules = [Rule(t.host, t.port) for t in configured if t.scheme in SCHEMES]
        rules.extend(parse_rule(e) for e in entries if e.strip())
        return cls(tuple(dict.fromkeys(rules)))

    def allows(self, target: Target) -> bool:
        return self.refusal(target) is None

    def refusal(self, target: Target) -> str | None:
        if target.scheme not in SCHEMES:
            return f"scheme {target.scheme!r} is never fetched (only http and https)"
        if target.userinfo:
            return "a URL with user:password@ in it is never fetched"
        if not target.host:
            return "the URL names no host"
        if any(rule.matches(target) for rule in self.rules):
            return None
        where = target.host if target.port in (None, 80, 443) else f"{target.host}:{target.port}"
        kind = _address_kind(target.host)
        what = f"{where} ({kind})" if kind else where
        return f"{what} is neither the host of a registry URL setting nor in {self.setting}" + (
            f" (allowed: {', '.join(str(r) for r in self.rules)})" if self.rules else ""
        )
