"""Settings: SSC_* environment variables, the old template.env names, and .env files."""

from __future__ import annotations

import os
import re
import socket
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from ssc_cli.deferred_module import defer
from ssc_cli.egress import parse_rule
from ssc_cli.errors import ConfigError
from ssc_cli.models import Ecosystem

# pydantic-settings imports asyncio for a method ssc never calls: asyncio (and ssl with it) loads
# when something first uses it, not with the settings (ssc_cli/deferred_module.py; issue 8).
defer("asyncio")

from pydantic import (  # noqa: E402
    AliasChoices,
    BeforeValidator,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict  # noqa: E402

from ssc_cli.settings_names import check_names  # noqa: E402  (it imports pydantic-settings)


def _env(*names: str) -> Any:
    return Field(None, validation_alias=AliasChoices(*names))


_DURATION_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def _duration(value: Any) -> Any:
    """12h, 10d, 30m, 2w (or seconds, or ISO 8601 as pydantic reads them) as a timedelta."""
    if isinstance(value, str):
        match = _DURATION_RE.fullmatch(value)
        if match:
            return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2].lower()])
    return value


def _off_is_zero(value: Any) -> Any:
    """`off` (any case) switches an interval setting off, as 0 does."""
    if isinstance(value, str) and value.strip().lower() == "off":
        return 0
    return value


# A duration setting: `12h`, `10d`, `30m`, `2w`, plain seconds; 0 switches the threshold off.
Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "ssc"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ssc"


def cache_dir_error(path: Path, exc: OSError) -> ConfigError:
    """The cache directory (SSC_CACHE_DIR or below it) cannot be created or written: exit 2."""
    # diskcache's own strerror repeats the path; the errno's text says why.
    reason = os.strerror(exc.errno) if exc.errno else (exc.strerror or type(exc).__name__)
    return ConfigError(
        f"SSC_CACHE_DIR: cannot use {path} as a cache directory ({reason}); "
        "point SSC_CACHE_DIR at a directory ssc may write"
    )


def _check_sqlite_uri(value: str) -> str:
    """sqlite:///relative or sqlite:////absolute; sqlite://x would name a file at the root."""
    path = value.split("://", 1)[1]
    if not path.startswith("/"):
        raise ValueError(
            f"{value!r} has two slashes: write sqlite:///{path} for a path relative to the "
            f"working directory or sqlite:////absolute/path/{Path(path).name}"
        )
    if path in ("/", "//"):
        raise ValueError(f"{value!r} names no file: write sqlite:///graph.sqlite")
    return value


def _check_bolt_uri(value: str, scheme: str) -> str:
    """A host, an optional port in range, no path: what the Neo4j driver accepts."""
    example = f"{scheme}://neo4j.example:7687"
    if any(c.isspace() for c in value):
        raise ValueError(f"contains white space; write it like {example}")
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError:
        raise ValueError(
            f"has a port that is not a number 1-65535; write it like {example}"
        ) from None
    if not parts.hostname:
        raise ValueError(f"names no host; write it like {example}")
    if parts.path not in ("", "/") or parts.fragment:
        raise ValueError(f"has a path; the database is SSC_GRAPH_DATABASE. Write it like {example}")
    if parts.query and not scheme.startswith("neo4j"):
        raise ValueError("a bolt:// URI takes no query (routing context needs neo4j://)")
    return value


_REDIS_URL_FORM = "redis://host:port/db or rediss://host:port/db (TLS) or unix:///path"


def _check_redis_url(value: str) -> str:
    """What redis-py's from_url takes, checked here so every command refuses it the same way."""
    got = f"got {redact_url(value)!r}"
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"must be {_REDIS_URL_FORM}, {got}")
    parts = urlsplit(value)
    if scheme == "unix":
        if not parts.path:
            raise ValueError(f"names no socket: write unix:///path/to/redis.sock, {got}")
        return value
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError:
        raise ValueError(
            f"has a port that is not a number 1-65535: {_REDIS_URL_FORM}, {got}"
        ) from None
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ValueError(
            f"the database after the host must be a number (/0): {_REDIS_URL_FORM}, {got}"
        )
    return value


class Settings(BaseSettings):
    """Every knob of ssc; built once per command and passed down."""

    model_config = SettingsConfigDict(
        env_prefix="SSC_", extra="ignore", populate_by_name=True, env_file_encoding="utf-8"
    )

    # Where things live.
    data_dir: Path = Field(default_factory=_default_data_dir)
    cache_dir: Path = Field(default_factory=_default_cache_dir)

    # Stopping: after SIGTERM/SIGINT, fetches in flight get this many seconds to finish before
    # they are abandoned (pipeline/stop.py); Kubernetes allows 30 s before SIGKILL by default.
    stop_grace: float = Field(5.0, ge=0)
    # Off a terminal, long jobs print a `ssc: progress ...` line on stderr this often (seconds;
    # 0 or `off`: never). On a terminal the rich bar shows instead (cli/context.py).
    progress_interval: Annotated[float, BeforeValidator(_off_is_zero)] = Field(60.0, ge=0)
    # Job lease in a Neo4j graph (ssc_cli/lock.py): it expires this many seconds after its last
    # renewal (every third of it), so a killed run blocks its job at most this long.
    lock_ttl: float = Field(120.0, ge=1, le=86_400)

    # Graph (SQLite by default, Neo4j 5 with bolt:// or neo4j://).
    graph_uri: str | None = _env("SSC_GRAPH_URI", "GRAPH_DB_URI")
    graph_user: str = Field(
        "neo4j", validation_alias=AliasChoices("SSC_GRAPH_USER", "GRAPH_DB_USER")
    )
    graph_password: SecretStr | None = _env("SSC_GRAPH_PASSWORD", "GRAPH_DB_PASSWORD")
    graph_database: str | None = None
    # How long the Neo4j driver retries a transaction that met a transient error or a server gone
    # away before the run gives up with exit 5 (seconds).
    graph_retry_time: float = Field(30.0, ge=0, le=3_600)
    write_batch_size: int = Field(100, ge=1, le=10_000)
    # SQLite's page cache for the graph (MiB): what a bulk ingest's RSS grows by, up to this. 64
    # costs no CPU against 256 at 30,000 npm packages (the OS caches the file) and bounds the
    # peak near 210 MB (docs/scale.md, section 3; issue 16).
    sqlite_cache_mb: int = Field(64, ge=2, le=65_536)

    # Vulnerability database (MongoDB), read by later commands and checked by doctor.
    vuln_db_uri: SecretStr | None = _env("SSC_VULN_DB_URI", "VULN_DB_URI")
    vuln_db_user: str | None = _env("SSC_VULN_DB_USER", "VULN_DB_USER")
    vuln_db_password: SecretStr | None = _env("SSC_VULN_DB_PASSWORD", "VULN_DB_PASSWORD")
    vuln_db_name: str = "vulnerabilities"
    vuln_db_collection: str = Field(
        "vulnerabilities",
        validation_alias=AliasChoices("SSC_VULN_DB_COLLECTION", "DB_VULNERABILITIES_COLLECTION"),
    )
    vuln_db_timeout_ms: int = Field(10_000, ge=100)
    # Embedded OSV store (the default source): its file, and the osv.dev-layout mirror it syncs from.
    osv_db: Path | None = None
    osv_url: str = "https://osv-vulnerabilities.storage.googleapis.com"
    # More changed records than this in one ecosystem folder: all.zip instead of one GET each.
    osv_zip_threshold: int = Field(250, ge=0)
    # Attribute every version ingest/update/drain-queue/rebuild write, in their batches.
    vulns_inline: bool = True
    vulns_batch_size: int = Field(500, ge=1, le=10_000)

    # Redis queue.
    redis_url: SecretStr | None = None
    redis_host: str | None = _env("SSC_REDIS_HOST", "REDIS_HOST")
    redis_port: int = Field(6379, validation_alias=AliasChoices("SSC_REDIS_PORT", "REDIS_PORT"))
    redis_db: int = Field(0, validation_alias=AliasChoices("SSC_REDIS_DB", "REDIS_DB"))
    redis_stream: str = Field(
        "package-extraction", validation_alias=AliasChoices("SSC_REDIS_STREAM", "REDIS_STREAM")
    )
    redis_group: str = Field(
        "extractors", validation_alias=AliasChoices("SSC_REDIS_GROUP", "REDIS_GROUP")
    )
    redis_consumer: str | None = _env("SSC_REDIS_CONSUMER", "REDIS_CONSUMER")
    # drain-queue: deliveries of a message before it goes to the dead-letter stream.
    queue_max_attempts: int = Field(3, ge=1, le=100)
    # A message pending this long in a consumer that stopped heart-beating is claimed by another.
    queue_claim_idle_ms: int = Field(60_000, ge=10)
    queue_block_ms: int = Field(5_000, ge=0)
    queue_batch: int = Field(50, ge=1, le=1_000)
    # Trimming: after each batch, MINID ~ up to the oldest entry the consumer groups still need
    # (acknowledged entries only). A MAXLEN ~ cap on every XADD is opt-in (0: none), because it
    # deletes the oldest entries whether processed or not.
    queue_maxlen: int = Field(0, ge=0)
    queue_trim_acked: bool = True
    queue_dlq_maxlen: int = Field(0, ge=0)
    # drain-queue: how long a worker whose Redis went away keeps reconnecting before exit 5.
    queue_reconnect_seconds: float = Field(300.0, ge=0)
    # A dependency discovered by drain-queue is not queued again for this many seconds.
    queue_discovery_ttl: int = Field(3_600, ge=0)

    # Registries: every base URL is a setting so tests and mirrors can point elsewhere.
    pypi_url: str = "https://pypi.org"
    npm_url: str = "https://registry.npmjs.org"
    npm_replicate_url: str = "https://replicate.npmjs.com/registry"
    maven_url: str = "https://repo.maven.apache.org/maven2"
    nuget_url: str = "https://api.nuget.org/v3/index.json"
    crates_index_url: str = "https://index.crates.io"
    crates_static_url: str = "https://static.crates.io"
    crates_api_url: str = "https://crates.io/api/v1"
    rubygems_url: str = "https://rubygems.org"

    # HTTP politeness and robustness.
    user_agent: str = "ssc/0.1.0 (+https://github.com/securechaindev/securechain-ssc-ingestion)"
    http_rate_limit: bool = True
    http_timeout: float = Field(30.0, gt=0)
    http_connect_timeout: float = Field(10.0, gt=0)
    http_retries: int = Field(5, ge=0, le=20)
    http_backoff_base: float = Field(0.5, ge=0)
    http_backoff_max: float = Field(60.0, ge=0)
    http_max_bytes: int = Field(128 * 1024 * 1024, ge=1024)
    http_max_download_bytes: int = Field(8 * 1024**3, ge=1024)
    # Hosts a payload URL or a redirect may lead to besides those of the *_url settings
    # (comma-separated host, host:port or *.domain). pypi.org serves files from another host.
    http_allowed_hosts: str = "files.pythonhosted.org"
    pypi_rate: float = Field(5.0, gt=0)
    pypi_concurrency: int = Field(10, ge=1)  # bandersnatch's hard cap for PyPI
    npm_rate: float = Field(10.0, gt=0)
    npm_concurrency: int = Field(16, ge=1)
    maven_rate: float = Field(2.0, gt=0)
    maven_concurrency: int = Field(4, ge=1)
    nuget_rate: float = Field(20.0, gt=0)
    nuget_concurrency: int = Field(16, ge=1)
    crates_rate: float = Field(20.0, gt=0)
    crates_concurrency: int = Field(16, ge=1)
    crates_api_rate: float = Field(1.0, gt=0)
    rubygems_rate: float = Field(8.0, gt=0)
    rubygems_concurrency: int = Field(8, ge=1)

    # Licences: the SPDX list (a folder URL holding licenses.json and exceptions.json, or a
    # local folder), the guard refusing a list far smaller than the stored one, and the page
    # size of classification.
    spdx_url: str = "https://spdx.org/licenses/"
    spdx_min_ratio: float = Field(0.9, ge=0.0, le=1.0)
    classify_batch_size: int = Field(2000, ge=1, le=100_000)

    # What gets extracted.
    dependency_kinds: str = "runtime"
    import_names: bool = True
    sdist_max_bytes: int = Field(20 * 1024 * 1024, ge=0)
    archive_max_entries: int = Field(50_000, ge=1)

    # Quality gates (ssc check, the checks after each run): docs/operations.md.
    checks_after_run: bool = True
    check_min_packages: int = Field(1, ge=0)
    check_regression_share: float = Field(0.1, gt=0, le=1)
    check_backlog_runs: int = Field(3, ge=1, le=100)
    check_max_dead_letters: int = Field(0, ge=0)
    check_max_orphan_versions: int = Field(0, ge=0)
    check_max_dangling_edges: int = Field(0, ge=0)
    check_max_duplicate_purls: int = Field(0, ge=0)
    check_min_osi_licenses: int = Field(100, ge=0)  # SPDX 3.28.0 has well over 100
    check_max_unknown_share: float = Field(0.5, ge=0, le=1)
    check_max_unattributed: int = Field(0, ge=0)
    # OSV records change every hour; a newest `modified` older than this means the sync stalled.
    check_max_vuln_age: Duration = timedelta(hours=72)
    # Freshness (ssc status): expected cadence plus slack for one missed run; 0 = no threshold.
    freshness_ingest: Duration = timedelta(days=10)  # weekly bulk loads (crontab.example)
    freshness_update: Duration = timedelta(hours=48)  # daily updates
    freshness_update_pypi: Duration | None = None  # per registry; unset: SSC_FRESHNESS_UPDATE
    freshness_update_npm: Duration | None = None
    freshness_update_maven: Duration | None = None
    freshness_update_nuget: Duration | None = None
    freshness_update_cargo: Duration | None = None
    freshness_update_rubygems: Duration | None = None
    freshness_drain_queue: Duration = timedelta(minutes=30)  # every 5 minutes
    freshness_vulns_sync: Duration = timedelta(hours=48)
    freshness_vulns_attribute: Duration = timedelta(hours=48)
    freshness_licenses_sync: Duration = timedelta(days=10)  # weekly
    freshness_classify: Duration = timedelta(hours=48)  # follows the daily updates
    # Prometheus text files, one per job (node-exporter's textfile collector reads them).
    metrics_dir: Path | None = None

    # user:password@ taken out of the registry URL settings, by host (see model_post_init).
    _credentials: dict[str, tuple[str, str]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Registry URLs keep no credentials: the HTTP layer sends them as Basic auth, so no
        message, log line or stored failure reason can quote them."""
        for name in REGISTRY_URL_FIELDS:
            bare, user, password = split_credentials(getattr(self, name))
            if user is not None or password is not None:
                setattr(self, name, bare)
                self._credentials[urlsplit(bare).netloc.lower()] = (user or "", password or "")

    @property
    def registry_credentials(self) -> dict[str, tuple[str, str]]:
        """(user, password) per registry host, from URLs written as https://user:token@host/."""
        return dict(self._credentials)

    @field_validator("graph_uri")
    @classmethod
    def _check_graph_uri(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme == "sqlite":
            return _check_sqlite_uri(value)
        if scheme not in ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"):
            raise ValueError("must start with sqlite:///, bolt:// or neo4j://")
        return _check_bolt_uri(value, scheme)

    @field_validator("redis_url", mode="before")
    @classmethod
    def _check_redis_url(cls, value: Any) -> Any:
        """Empty means unset (as SSC_GRAPH_URI): REDIS_HOST, or no Redis, is then in force."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str):
            return _check_redis_url(value.strip())
        return value

    @field_validator("http_allowed_hosts")
    @classmethod
    def _check_allowed_hosts(cls, value: str) -> str:
        entries = [e.strip() for e in value.split(",") if e.strip()]
        for entry in entries:
            parse_rule(entry)  # a ValueError names the entry
        return ",".join(entries)

    @property
    def allowed_hosts(self) -> list[str]:
        """SSC_HTTP_ALLOWED_HOSTS, one entry per item."""
        return [e for e in self.http_allowed_hosts.split(",") if e]

    @property
    def url_settings(self) -> dict[str, str]:
        """Every http(s) URL setting by field name: their hosts are where ssc may connect."""
        found = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name.endswith("_url") and isinstance(value, str) and "://" in value:
                found[name] = value
        return found

    @field_validator("dependency_kinds")
    @classmethod
    def _check_kinds(cls, value: str) -> str:
        kinds = {k.strip() for k in value.split(",") if k.strip()}
        unknown = kinds - KNOWN_DEPENDENCY_KINDS
        if unknown:
            raise ValueError(
                f"unknown kinds {sorted(unknown)}; known: {', '.join(sorted(KNOWN_DEPENDENCY_KINDS))}"
            )
        return ",".join(sorted(kinds))

    @property
    def graph_target(self) -> str:
        """The graph URI in force: the setting, or a SQLite file in the data directory."""
        return self.graph_uri or f"sqlite:///{self.data_dir / 'graph.sqlite'}"

    @property
    def osv_path(self) -> Path:
        """The embedded OSV store in force."""
        return self.osv_db or self.data_dir / "osv.sqlite"

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(k for k in self.dependency_kinds.split(",") if k)

    @property
    def consumer_name(self) -> str:
        return self.redis_consumer or f"{socket.gethostname()}-{os.getpid()}"

    @property
    def dead_letter_stream(self) -> str:
        return f"{self.redis_stream}-dlq"

    def concurrency(self, ecosystem: Ecosystem) -> int:
        """Default in-flight requests (and packages) for a registry."""
        return {
            Ecosystem.PYPI: self.pypi_concurrency,
            Ecosystem.NPM: self.npm_concurrency,
            Ecosystem.MAVEN: self.maven_concurrency,
            Ecosystem.NUGET: self.nuget_concurrency,
            Ecosystem.CARGO: self.crates_concurrency,
            Ecosystem.RUBYGEMS: self.rubygems_concurrency,
        }[ecosystem]


KNOWN_DEPENDENCY_KINDS = frozenset(
    {"runtime", "optional", "peer", "dev", "build", "test", "provided", "system"}
)


def _env_names() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        choices = [str(c) for c in alias.choices] if isinstance(alias, AliasChoices) else []
        spelled = choices or [f"SSC_{field.upper()}"]
        for key in [field, *spelled]:
            names[key.lower()] = spelled
    return names


_FIELD_ENV_NAMES = _env_names()


def load_settings(env_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once; every bad field is named in one ConfigError."""
    if env_file is not None and not env_file.is_file():
        raise ConfigError(f"--env-file {env_file}: no such file")
    chosen = (
        env_file if env_file is not None else (Path(".env") if Path(".env").is_file() else None)
    )
    if chosen is not None:
        _check_env_file(chosen, f"--env-file {chosen}" if env_file is not None else "./.env")
    check_names(Settings, os.environ, chosen)
    try:
        return Settings(_env_file=chosen, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            names = _FIELD_ENV_NAMES.get(field.lower(), [field])
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{' / '.join(names)}: {message}")
        if len(lines) == 1:  # one line for the one mistake (cron mails, pod logs)
            raise ConfigError(f"invalid setting {lines[0]}") from None
        raise ConfigError(
            "invalid settings:\n" + "\n".join(f"  {line}" for line in lines)
        ) from None


def _check_env_file(path: Path, label: str) -> None:
    """An env file must be readable UTF-8 text: say which file and what to do otherwise."""
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{label}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot be read ({exc.strerror})") from None


REGISTRY_URL_FIELDS = (
    "pypi_url",
    "npm_url",
    "npm_replicate_url",
    "maven_url",
    "nuget_url",
    "crates_index_url",
    "crates_static_url",
    "crates_api_url",
    "rubygems_url",
    "osv_url",
)


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(the URL without user:password@, user, password); None where the URL has none."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, None, None
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return bare, user, password


def redact_url(url: str) -> str:
    """The URL without its password, for output and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
