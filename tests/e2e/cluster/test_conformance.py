"""The conformance CI subset: upstream conformance tests (and a few specs of upstream's default
job beyond conformance) that pass today keep passing.

Runs `kprov conformance` (images built and imported on every host, the suite's own binary)
against the package's 5-host cluster with the names in tests/conformance/ci-subset.txt as
both the selection and the regression floor, its shards dealt by tests/conformance/ci-seconds.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.cluster.conftest import Cluster

REPO = Path(__file__).resolve().parents[3]
SUBSET = REPO / "tests" / "conformance" / "ci-subset.txt"
# each spec's seconds in a lab run (its report's spec-seconds.json): the shards are dealt by them,
# the slow specs spread out, not by the file's order (decisions 0062)
SECONDS = REPO / "tests" / "conformance" / "ci-seconds.json"
SHARED = Path(os.environ.get("KPROV_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance"))


@pytest.mark.runs_late  # it leaves ~100 test namespaces being deleted: the other tests run first
@pytest.mark.skipif(not (SHARED / "e2e.test.gz").is_file(), reason=f"no e2e.test.gz in {SHARED}")
def test_the_conformance_ci_subset_passes(cluster: Cluster, tmp_path: Path) -> None:
    report = tmp_path / "report"
    proc = cluster.kprov("conformance", "-i", str(cluster.inventory),
                         "--e2e-test", str(SHARED / "e2e.test.gz"), "--agnhost", str(SHARED / "agnhost.gz"),
                         "--suite", "default", "--no-mirror-images",  # (conformance specs and beyond)
                         "--tests", str(SUBSET), "--expect", str(SUBSET), "--spec-seconds", str(SECONDS),
                         "--parallel", "3", "--timeout", "20", "--report-dir", str(report), timeout=1800)
    detail = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, detail
    summary = json.loads((report / "summary.json").read_text())
    wanted = [line for line in SUBSET.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert summary["total"] == len(wanted), detail  # every listed name is a spec of this binary
    assert summary["passed"] == summary["total"] and summary["regressions"] == [], detail
