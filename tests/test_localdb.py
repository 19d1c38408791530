"""Several ssc processes opening one new SQLite file at the same moment all succeed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

_WRITER = """
import sys, time
from pathlib import Path
from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, PackageRecord, VersionRecord
while time.time() < float(sys.argv[3]):
    pass  # every writer opens the file at the same instant
store = SqliteStore(Path(sys.argv[1]))
store.migrate()
store.write_packages([PackageRecord(Ecosystem.PYPI, "p" + sys.argv[2], [VersionRecord("1.0")])])
store.close()
"""


def test_processes_racing_to_open_a_new_graph(tmp_path: Path) -> None:
    import time

    graph = tmp_path / "graph.sqlite"
    begin = str(time.time() + 3)  # after every interpreter has started and imported ssc
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(graph), str(n), begin],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0] * 8, errors
    from ssc_cli.graph.sqlite import SqliteStore
    from ssc_cli.models import Ecosystem

    store = SqliteStore(graph)
    assert store.count(Ecosystem.PYPI, "extracted") == 8
    store.close()
