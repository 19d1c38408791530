"""`python -m tests.fakeregistry`: synthetic registries of every ecosystem, in the foreground.

    python -m tests.fakeregistry > fake.env &
    ssc --env-file fake.env ingest npm --limit 20

It serves on 127.0.0.1 the synthetic worlds of tests/reliability/worlds.py (the apps of
tests/fakeregistry/<ecosystem>.py), with the faults of server.py's `Faults` on demand, prints
the SSC_* settings that point ssc at it on stdout (an env file: `# ` comment lines and
NAME=value lines, ending with the line END_OF_SETTINGS), says what it serves on stderr, and
serves until SIGINT or SIGTERM (exit 0).
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from collections.abc import Iterable
from typing import IO

from tests.fakeregistry.server import FakeRegistry, Faults
from tests.reliability import worlds

ECOSYSTEMS = worlds.ECOSYSTEMS
ALIASES = {"crates": "cargo", "gem": "rubygems"}  # as ssc's command line accepts them

# The path prefixes each ecosystem's apps are mounted under (as tests/conftest.py's `ssc`).
PREFIXES: dict[str, tuple[str, ...]] = {
    "pypi": ("pypi",),
    "npm": ("npm", "npm-replicate"),
    "maven": ("maven",),
    "nuget": ("nuget",),
    "cargo": ("crates-index", "crates-static", "crates-api"),
    "rubygems": ("rubygems",),
}

# The settings of each ecosystem: name and the path below the server's root.
SETTINGS: dict[str, tuple[tuple[str, str], ...]] = {
    "pypi": (("SSC_PYPI_URL", "/pypi"),),
    # As replicate.npmjs.com/registry: the feed below it, update_seq at the root above.
    "npm": (("SSC_NPM_URL", "/npm"), ("SSC_NPM_REPLICATE_URL", "/npm-replicate/registry")),
    "maven": (("SSC_MAVEN_URL", "/maven"),),
    "nuget": (("SSC_NUGET_URL", "/nuget/v3/index.json"),),
    "cargo": (
        ("SSC_CRATES_INDEX_URL", "/crates-index"),
        ("SSC_CRATES_STATIC_URL", "/crates-static"),
        ("SSC_CRATES_API_URL", "/crates-api"),
    ),
    "rubygems": (("SSC_RUBYGEMS_URL", "/rubygems"),),
}

# Readers of stdout (noxfile.py's demo, benchmarks) stop at this line: the settings are complete.
END_OF_SETTINGS = "# END_OF_SETTINGS: serving until SIGINT or SIGTERM"

FAULT_KINDS = ("429", "500", "timeout", "reset", "truncated", "malformed")


def _ecosystems(text: str) -> list[str]:
    chosen: list[str] = []
    for word in text.split(","):
        name = ALIASES.get(word.strip().lower(), word.strip().lower())
        if name == "all":
            chosen.extend(e for e in ECOSYSTEMS if e not in chosen)
        elif name not in ECOSYSTEMS:
            raise argparse.ArgumentTypeError(
                f"unknown ecosystem {word.strip()!r}: choose from {', '.join(ECOSYSTEMS)} or all"
            )
        elif name not in chosen:
            chosen.append(name)
    if not chosen:
        raise argparse.ArgumentTypeError("name at least one ecosystem")
    return chosen


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a rate is a share of requests, 0 to 1: got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tests.fakeregistry",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--port", type=int, default=0, help="0 (the default) picks a free port")
    p.add_argument(
        "--ecosystems",
        type=_ecosystems,
        metavar="LIST",
        default=list(ECOSYSTEMS),
        help=f"comma-separated, of {','.join(ECOSYSTEMS)} (default: all)",
    )
    p.add_argument(
        "--packages", type=int, metavar="N", default=200, help="packages per ecosystem (200)"
    )
    p.add_argument("--versions", type=int, metavar="N", default=3, help="versions per package (3)")
    p.add_argument(
        "--seed", type=int, default=7, help="seeds the dependencies drawn and the faults (7)"
    )
    p.add_argument(
        "--latency-ms", type=float, metavar="MS", default=0.0, help="wait before every answer"
    )
    p.add_argument(
        "--latency-max-ms",
        type=float,
        metavar="MS",
        default=None,
        help="with it, each answer waits uniformly between --latency-ms and this",
    )
    faults = p.add_argument_group(
        "faults",
        "Each a share of requests (0 to 1), drawn per request from --seed; together at most 1.",
    )
    faults.add_argument("--fault-429", type=_rate, metavar="RATE", help="429 Too Many Requests")
    faults.add_argument(
        "--retry-after",
        type=int,
        metavar="S",
        default=None,
        help="seconds in the 429s' Retry-After (0)",
    )
    faults.add_argument("--fault-500", type=_rate, metavar="RATE", help="500 Internal Server Error")
    faults.add_argument(
        "--fault-timeout",
        type=_rate,
        metavar="RATE",
        help="the answer stalls --timeout-seconds (SSC_HTTP_TIMEOUT is printed below that)",
    )
    faults.add_argument(
        "--timeout-seconds",
        type=float,
        metavar="S",
        default=None,
        help="stall of a timeout fault (2)",
    )
    faults.add_argument(
        "--fault-reset", type=_rate, metavar="RATE", help="the connection is reset (RST)"
    )
    faults.add_argument(
        "--fault-truncated",
        type=_rate,
        metavar="RATE",
        help="the body stops halfway, the connection closes",
    )
    faults.add_argument(
        "--fault-malformed",
        "--fault-garbled",
        dest="fault_malformed",
        type=_rate,
        metavar="RATE",
        help="the body is cut and followed by garbage bytes",
    )
    faults.add_argument(
        "--soak",
        action="store_true",
        help="the soak mix (Faults.soak): 10%% 429, 5%% 500, 1%% each reset and timeout, "
        "0.5%% each truncated and malformed; --fault-* flags override its rates",
    )
    faults.add_argument(
        "--fault-ecosystems",
        type=_ecosystems,
        metavar="LIST",
        default=None,
        help="only these ecosystems' requests get faults (default: all served)",
    )
    return p


def faults_from(args: argparse.Namespace) -> Faults:
    """The Faults the flags ask for: the soak mix or none, then each --fault-* rate."""
    base = Faults.soak(args.seed) if args.soak else Faults(seed=args.seed)
    rates = {kind: getattr(base, f"rate_{kind}") for kind in FAULT_KINDS}
    for kind in FAULT_KINDS:
        given = getattr(args, f"fault_{kind}")
        if given is not None:
            rates[kind] = given
    if sum(rates.values()) > 1.0 + 1e-9:
        raise ValueError(f"the fault rates add up to {sum(rates.values()):g}, more than 1")
    only = None
    if args.fault_ecosystems is not None:
        prefixes = [p for e in args.fault_ecosystems for p in PREFIXES[e]]
        only = "^/(" + "|".join(prefixes) + ")(/|$)"
    return Faults(
        **{f"rate_{kind}": rate for kind, rate in rates.items()},
        retry_after=args.retry_after if args.retry_after is not None else base.retry_after,
        timeout_seconds=(
            args.timeout_seconds if args.timeout_seconds is not None else base.timeout_seconds
        ),
        seed=args.seed,
        only=only,
    )


def settings(server: FakeRegistry, served: Iterable[str], faults: Faults) -> dict[str, str]:
    """The SSC_* settings pointing ssc at server; an ecosystem not served points at a path that
    answers 404, so that no try reaches its public registry."""
    chosen = set(served)
    out = {"SSC_HTTP_RATE_LIMIT": "off"}  # a local fake: no per-host politeness needed
    if faults.rate_timeout > 0:
        # ssc's default timeout (30 s) outlasts the stall: a timeout fault must time out.
        out["SSC_HTTP_TIMEOUT"] = f"{faults.timeout_seconds / 2:g}"
    for ecosystem in ECOSYSTEMS:
        for name, path in SETTINGS[ecosystem]:
            where = path if ecosystem in chosen else f"/not-served/{ecosystem}{path}"
            out[name] = server.url() + where
    return out


def env_file_text(server: FakeRegistry, served: list[str], faults: Faults, argv: list[str]) -> str:
    """What goes to stdout: an env file ssc --env-file reads (python-dotenv skips comments)."""
    command = shlex.join(["python", "-m", "tests.fakeregistry", *argv])
    lines = [
        f"# ssc settings for the fake registry at {server.url()} ({command}); "
        "save them and pass them to ssc --env-file FILE",
        f"# served: {', '.join(served)}; not served (their URLs answer 404): "
        + (", ".join(e for e in ECOSYSTEMS if e not in served) or "none"),
    ]
    lines += [f"{name}={value}" for name, value in settings(server, served, faults).items()]
    lines.append(END_OF_SETTINGS)
    return "\n".join(lines) + "\n"


def read_settings(stream: IO[str]) -> dict[str, str]:
    """The settings a running `python -m tests.fakeregistry` printed (its stdout, a pipe)."""
    found: dict[str, str] = {}
    for line in stream:
        if line.strip() == END_OF_SETTINGS:
            return found
        if line.strip() and not line.startswith("#"):
            name, _, value = line.strip().partition("=")
            found[name] = value
    raise RuntimeError(f"the fake registry ended before {END_OF_SETTINGS!r}; read {found}")


def _describe(served: list[str], args: argparse.Namespace, faults: Faults) -> str:
    rates = [
        f"{kind} {getattr(faults, f'rate_{kind}'):g}"
        for kind in FAULT_KINDS
        if getattr(faults, f"rate_{kind}")
    ]
    where = "" if args.fault_ecosystems is None else f" on {','.join(args.fault_ecosystems)}"
    return (
        f"fake registry: {', '.join(served)}, {args.packages} packages each"
        + (f", faults {', '.join(rates)}{where}" if rates else ", no faults")
        + (f", latency {args.latency_ms:g} ms" if args.latency_ms else "")
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    p = parser()
    args = p.parse_args(argv)
    try:
        faults = faults_from(args)
    except ValueError as exc:
        p.error(str(exc))
    served: list[str] = args.ecosystems
    server = FakeRegistry(
        latency=args.latency_ms / 1000,
        latency_max=None if args.latency_max_ms is None else args.latency_max_ms / 1000,
        faults=faults,
        keep_log=False,  # it serves until stopped: a log would grow by one entry a request
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start(args.port)  # before mounting: npm's apps ask the server for their URLs
    for ecosystem in served:
        worlds.mount(server, ecosystem, args.packages, versions=args.versions, seed=args.seed)
    sys.stdout.write(env_file_text(server, served, faults, argv))
    sys.stdout.flush()
    print(f"{_describe(served, args, faults)}; at {server.url()}; Ctrl-C stops it", file=sys.stderr)
    while not stop.wait(0.2):  # a short wait: the signal handlers run between two
        pass
    server.stop()
    print("fake registry stopped", file=sys.stderr)
    sys.exit(0)
