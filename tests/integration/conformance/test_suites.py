"""`--suite` selections against the real upstream e2e.test binary's spec list (a dry run: no
cluster is contacted): the default job leaves out what upstream's other jobs own and what this
cluster cannot have, keeps the local, hostPath and emptyDir volume drivers, and its reasons
account for every spec it leaves out."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from kprov.conformance.binaries import executable
from kprov.conformance.suite import E2ESuite
from kprov.conformance.suites import SUITES

REPO = Path(__file__).resolve().parents[3]
BINARY = Path(os.environ.get("KPROV_CONFORMANCE_DIR", REPO.parent / "shared" / "conformance")) / "e2e.test.gz"

pytestmark = pytest.mark.skipif(not BINARY.is_file(), reason=f"{BINARY} is not there (../shared/conformance)")


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> E2ESuite:
    return E2ESuite(executable(BINARY, tmp_path_factory.mktemp("bin")))


def test_the_default_suite_is_upstreams_default_job_less_what_cannot_run_here(suite: E2ESuite) -> None:
    default = SUITES["default"]
    chosen = [s.name for s in suite.list_specs(default.focus, default.skip)]
    everything = [s.name for s in suite.list_specs("", "")]
    assert 0 < len(chosen) < len(everything)
    owned_elsewhere = re.compile(r"\[(Slow|Serial|Disruptive|Flaky|Feature:[^\]]+)\]")
    assert not [n for n in chosen if owned_elsewhere.search(n)]
    assert not [n for n in chosen if re.search(r"\[Driver: (aws|gcepd|vsphere|nfs|csi-hostpath)\]", n)]
    drivers = {d for n in chosen for d in re.findall(r"\[Driver: ([^\]]+)\]", n)}
    assert {"local", "hostPath", "emptydir"} <= drivers
    conformance = {s.name for s in suite.list_specs(SUITES["conformance"].focus, "")}
    # the default job runs the conformance specs that are not slow, serial or disruptive
    assert {n for n in conformance if not owned_elsewhere.search(n)} <= set(chosen)
    outside = set(everything) - set(chosen)
    left_out = default.skipped_by(outside)
    assert sum(left_out.values()) == len(outside)  # every one has its reason
    assert left_out["needs Windows nodes"] > 0


def test_the_conformance_suite_selects_the_tagged_specs(suite: E2ESuite) -> None:
    names = [s.name for s in suite.list_specs(SUITES["conformance"].focus, SUITES["conformance"].skip)]
    assert names and all("[Conformance]" in n for n in names)
