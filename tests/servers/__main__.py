"""python -m tests.servers build | neo4j | mongo: build the launchers, or run one until Ctrl-C."""

from __future__ import annotations

import sys
import time

from tests import servers


def main(argv: list[str]) -> int:
    what = argv[0] if argv else "build"
    if what == "build":
        for kind in servers.KINDS:
            started = time.monotonic()
            path = servers.build(kind)
            print(f"{kind} test server: {path} ({time.monotonic() - started:.1f} s)", flush=True)
        return 0
    if what in servers.KINDS:
        server = servers.start(what)
        print(server.uri, flush=True)
        try:
            server.process.wait()
        except KeyboardInterrupt:
            server.stop()
        return 0
    print("usage: python -m tests.servers [build|neo4j|mongo]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
