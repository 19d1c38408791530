"""One lock per job so overlapping cron runs cannot interleave (securechain-compat.md §6-26)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ssc_cli.errors import ConfigError, LockHeld


@contextmanager
def job_lock(directory: Path, job: str) -> Iterator[None]:
    """Hold an exclusive, non-blocking flock on <directory>/locks/<job>.lock; LockHeld if taken.

    The kernel drops the lock when the process dies, so a SIGKILLed run never leaves it stuck.
    """
    locks = directory / "locks"
    try:
        locks.mkdir(parents=True, exist_ok=True)
        handle = (locks / f"{job}.lock").open("a+")
    except OSError as exc:
        raise ConfigError(
            f"cannot create the lock file in {locks}: {exc}; check SSC_DATA_DIR"
        ) from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockHeld(
                f"another `ssc {job.replace('-', ' ')}` is running (lock {locks / (job + '.lock')}); "
                "this run wrote nothing"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()
