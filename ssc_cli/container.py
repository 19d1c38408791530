"""Whether ssc runs in a container whose data dir would vanish with it (issue 9.6)."""

from __future__ import annotations

import logging
import os
from functools import cache
from pathlib import Path

log = logging.getLogger("ssc")

# Filesystems that do not outlive the container even when mounted on the data dir.
_EPHEMERAL_TYPES = frozenset({"tmpfs", "ramfs", "overlay", "aufs"})
_CGROUP_HINTS = ("docker", "kubepods", "containerd", "libpod", "lxc", "crio")


def in_container(root: Path = Path("/"), environ: dict[str, str] | None = None) -> bool:
    """True inside Docker, Podman or a Kubernetes pod (the markers those runtimes leave)."""
    env = os.environ if environ is None else environ
    if env.get("KUBERNETES_SERVICE_HOST"):
        return True
    if (root / ".dockerenv").exists() or (root / "run/.containerenv").exists():
        return True
    try:
        cgroup = (root / "proc/1/cgroup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(hint in cgroup for hint in _CGROUP_HINTS)


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def mounts(mountinfo: str) -> dict[str, str]:
    """Mount point -> filesystem type, from the text of /proc/self/mountinfo (the last wins)."""
    found: dict[str, str] = {}
    for line in mountinfo.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        after = line.split(" - ", 1)[1].split()
        found[_unescape(fields[4])] = after[0] if after else ""
    return found


def persistent_mount(path: Path, table: dict[str, str]) -> str | None:
    """The mount below the root filesystem that holds path, if it is not a throwaway one."""
    path = Path(os.path.abspath(path))
    for candidate in [path, *path.parents]:
        where = str(candidate)
        if where == "/":
            return None
        if where in table:
            return None if table[where] in _EPHEMERAL_TYPES else where
    return None


def _device_mount(path: Path) -> bool:
    """Without mountinfo: path (or its nearest existing parent) is on another device than /."""
    for candidate in [path, *path.parents]:
        try:
            return candidate.stat().st_dev != Path("/").stat().st_dev
        except OSError:
            continue
    return False


def data_dir_is_kept(data_dir: Path) -> bool:
    try:
        table = mounts(Path("/proc/self/mountinfo").read_text(encoding="utf-8"))
    except OSError:
        return _device_mount(Path(os.path.abspath(data_dir)))
    return persistent_mount(data_dir, table) is not None


@cache  # once per process, however many times a command opens the graph
def warn_if_state_is_lost(data_dir: Path) -> None:
    """One line on stderr when the embedded graph sits in a container's own filesystem."""
    if in_container() and not data_dir_is_kept(data_dir):
        log.warning(
            "the graph, cursors and archives in SSC_DATA_DIR=%s are lost when this container "
            "goes: mount a volume there (docker run -v ssc-data:%s, or a PersistentVolumeClaim) "
            "or set SSC_GRAPH_URI to a Neo4j server",
            data_dir,
            data_dir,
        )
