"""The SscError tree; the CLI maps each branch to one exit code (DESIGN.md, exit codes)."""

from __future__ import annotations


class SscError(Exception):
    """Base of every error ssc raises on purpose."""

    exit_code = 1


class ConfigError(SscError):
    """Bad usage or settings: fix the command line or the environment."""

    exit_code = 2


class GraphMissing(ConfigError):
    """A read-only command was pointed at a graph that does not exist (or is too old to read)."""


class QualityGateError(SscError):
    """A quality gate blocked the run."""

    exit_code = 3


class RegistryError(SscError):
    """A registry answered badly for one request (after retries)."""

    exit_code = 4

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class RegistryUnavailable(RegistryError):
    """The registry cannot be reached at all: connection refused, DNS, timeouts, 5xx after retries."""


class HttpStatusError(RegistryError):
    """The registry answered with an unexpected HTTP status."""

    def __init__(self, message: str, *, url: str, status: int) -> None:
        super().__init__(message, url=url)
        self.status = status


class RetriesExhausted(HttpStatusError, RegistryUnavailable):
    """Still 5xx or 429 (or 408, 425) after every retry: the registry is failing, not the package,
    so it counts toward the "registry down" rule (pipeline/extract.py UNREACHABLE_STREAK)."""


class PackageNotFound(RegistryError):
    """The registry does not know this package (404)."""


class MalformedPayload(RegistryError):
    """The registry answered 200 with a body that does not parse or validate."""

    # Counted as schema drift in run summaries (a field of the wrong type or shape); a subclass
    # for a transfer fault (a checksum mismatch) is not the registry changing its payloads.
    schema_drift = True


class PayloadTooLarge(RegistryError):
    """A response exceeded the configured size cap."""


class UrlRefused(RegistryError):
    """A URL (from a payload, or a redirect) points where ssc may not connect; never fetched."""

    def __init__(self, message: str, *, url: str, reason: str) -> None:
        super().__init__(message, url=url)
        self.reason = reason


class GraphUnavailable(SscError):
    """The graph store cannot be reached or refused the write."""

    exit_code = 5


class QueueUnavailable(SscError):
    """The Redis queue cannot be reached."""

    exit_code = 5


class InternalError(SscError):
    """Not raised: the kind and exit code (EX_SOFTWARE) the CLI reports for an exception that
    is no SscError, a bug in ssc (cli/context.py, internal_error)."""

    exit_code = 70


class LockHeld(SscError):
    """Another run of the same job holds the lock (EX_TEMPFAIL)."""

    exit_code = 75
