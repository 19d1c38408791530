"""Serve a synthetic fake registry: python -m tests.fakeregistry --pypi 200 --port 8765."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry, Faults


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--pypi", type=int, default=200, help="synthetic PyPI projects")
    parser.add_argument("--versions", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of 429/500 answers")
    args = parser.parse_args()
    faults = Faults(rate_429=args.fault_rate / 2, rate_500=args.fault_rate / 2)
    server = FakeRegistry(latency=args.latency_ms / 1000, faults=faults)
    server.mount("pypi", pypi.synthetic(args.pypi, versions=args.versions))
    server.start(args.port)
    print(f"SSC_PYPI_URL={server.url('pypi')}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    server.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
