"""`vulns attribute` names the bad input its source met (MongoDB documents), exit 1 (issue 10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssc_cli.graph.sqlite import SqliteStore
from ssc_cli.models import Ecosystem, PackageRecord, VersionRecord
from ssc_cli.pipeline.vulns import AttributeOptions, attribute
from tests.conftest import Ssc
from tests.fakeregistry import pypi
from tests.fakeregistry.server import FakeRegistry
from tests.vuln_sources import Populated, pypi_advisory

BAD_DOCUMENT = {"id": "GHSA-bad", "affected": [{"package": {"ecosystem": "PyPI", "name": "p"}}]}


GOOD = pypi_advisory("GHSA-good", "p", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
BAD_VECTOR = pypi_advisory("GHSA-vec", "p", "CVSS:3.1/AV:N/AC:Q")


def test_a_mongodb_document_that_does_not_validate_is_named_and_the_rest_attributed(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "graph.sqlite")
    store.migrate()
    store.write_packages(
        [PackageRecord(Ecosystem.PYPI, "p", [VersionRecord("1.0", requirements=[])])]
    )
    populated = Populated("mongo-fake", tmp_path)
    try:
        populated.collection.insert_one(dict(BAD_DOCUMENT))
        populated.put([GOOD, BAD_VECTOR])
        summary = attribute(store, populated.source, AttributeOptions(batch_size=1))
    finally:
        populated.close()
    assert summary.failed
    assert summary.invalid_records == ["GHSA-bad: modified: Field required"]
    assert [v["id"] for v in summary.rejected_vectors] == ["GHSA-vec"]
    [row] = store.vuln_rows(Ecosystem.PYPI, ["p"])["p"]
    assert (row.vulnerabilities, row.mean, row.unscored) == (("GHSA-good", "GHSA-vec"), 9.8, 1)
    [run] = store.recent_runs(["vulns-attribute"], None, limit=1)
    assert run["status"] == "failed"
    store.close()


@pytest.mark.mongo
def test_vulns_attribute_exits_1_naming_the_bad_documents(
    ssc: Ssc, tmp_path: Path, fake_registry: FakeRegistry
) -> None:
    store = SqliteStore.from_uri(ssc.graph_uri)
    store.migrate()
    store.write_packages(
        [PackageRecord(Ecosystem.PYPI, "p", [VersionRecord("1.0", requirements=[])])]
    )
    store.close()
    populated = Populated("mongo", tmp_path)
    try:
        populated.collection.insert_one(dict(BAD_DOCUMENT))
        populated.put([GOOD, BAD_VECTOR])
        env = {
            "SSC_VULN_DB_URI": populated.mongo.target,
            "SSC_VULN_DB_NAME": populated.collection.database.name,
        }
        result = ssc("--json", "vulns", "attribute", env=env, expect=1)
        summary = json.loads(result.stdout)
        assert summary["invalid_records"] == ["GHSA-bad: modified: Field required"]
        assert [v["id"] for v in summary["rejected_vectors"]] == ["GHSA-vec"]
        assert summary["versions_changed"] == 1
        plain = ssc("vulns", "attribute", "--all", env=env, expect=1)
        assert "1 invalid records skipped, 1 rejected vectors" in plain.stdout + plain.stderr
        assert "invalid record: GHSA-bad: modified: Field required" in plain.stderr
        # Inline attribution names them in the ingest's summary too.
        fake_registry.mount("pypi", pypi.synthetic(2, versions=1, deps=0))
        populated.put([pypi_advisory("GHSA-vec2", "pkg-00001", "CVSS:3.1/AV:N/AC:Q")])
        inline = ssc.json("ingest", "pypi", env=env)["vulnerabilities"]
        assert [v["id"] for v in inline["rejected_vectors"]] == ["GHSA-vec2"]
        assert inline["invalid_records"] == []
    finally:
        populated.close()
