"""Peak RSS of a benchmark's child, its own pages only.

    python benchmarks/own_peak.py OUT -m ssc_cli ARGS...

runs `python -m ssc_cli ARGS` in this process and, when it exits, writes its peak RSS in kB
(`VmHWM` of /proc/self/status) to OUT. Why not `wait4`/`getrusage`: Linux carries the parent's
RSS at fork into the child's `ru_maxrss` across exec, so the child of a benchmark that holds a big
fake registry reported the registry's size (a 600 MB parent makes `python -c pass` report
611 MB). `VmHWM` belongs to the address space exec made, so it counts the child alone.
"""

from __future__ import annotations

import atexit
import runpy
import sys
from pathlib import Path


def peak_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def command(out: Path, *args: str) -> list[str]:
    """The argv that runs `python -m ssc_cli ARGS` and leaves its own peak RSS in out."""
    return [sys.executable, str(Path(__file__)), str(out), "-m", "ssc_cli", *args]


def read_mb(out: Path) -> float:
    return int(out.read_text()) / 1024


def main() -> None:
    out, flag, module, *args = sys.argv[1:]
    if flag != "-m":
        raise SystemExit(__doc__)
    atexit.register(lambda: Path(out).write_text(str(peak_kb())))
    sys.argv = [module, *args]
    sys.path.insert(0, ".")
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
