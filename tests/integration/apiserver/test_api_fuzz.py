"""The fuzz harness's short form (tests/fuzz): a few thousand hostile requests against a
control plane, none answered with a 5xx, a hang, a dropped connection or a reply
that is not a Status, and the server still running.

The module runs on a control plane of its own: the stream deletes collections it finds (every
ClusterRole among them, so a later test's node identity could no longer ask for a
SelfSubjectAccessReview), which must not reach the session's shared one. Object fields of the
wrong JSON type are left out (cases(wrong_types=False)), though kprov refuses them since
decision 0038; the module form (``python -m tests.fuzz.api_fuzz``) sends them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kprov.local.processes import pid_of
from tests.fuzz.api_fuzz import FuzzReport, Target, _Connection, _send, run_fuzz
from tests.fuzz.cases import Case
from tests.integration.conftest import ControlPlane, running_control_plane

REQUESTS = 2000
SEED = 56


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """This module's own control plane (the session's is left as the other tests expect it)."""
    with running_control_plane(tmp_path_factory.mktemp("fuzz-control-plane")) as plane:
        yield plane


def test_hostile_requests_get_4xx_statuses_and_the_server_lives(control_plane: ControlPlane) -> None:
    pid = pid_of(Path(control_plane.info.dir), "apiserver")
    assert pid is not None
    target = Target.from_kubeconfig(
        control_plane.server, control_plane.admin_kubeconfig, control_plane.ca_file, pid
    )
    report = run_fuzz(target, REQUESTS, SEED, wrong_types=False)
    findings = dict(report.findings)
    assert report.requests == REQUESTS
    assert report.crashes == 0
    failures = (report.server_errors, report.timeouts, report.dropped, report.not_status)
    assert failures == (0, 0, 0, 0), findings
    assert sum(count for code, count in report.status.items() if 400 <= code < 500) > REQUESTS // 2


def test_a_query_case_that_opens_a_watch_is_no_timeout(control_plane: ControlPlane) -> None:
    """A 100k run's 28 "timeouts" were mostly query and accept cases that happened to carry
    ``watch=…``: the server answered with a stream at once (as kube-apiserver does), and the
    harness waited 20 s for its end. Such replies are held and dropped as watch cases are."""
    pid = pid_of(Path(control_plane.info.dir), "apiserver")
    assert pid is not None
    target = Target.from_kubeconfig(
        control_plane.server, control_plane.admin_kubeconfig, control_plane.ca_file, pid
    )
    report = FuzzReport()
    conn = _Connection(target, "admin")
    for path in ("/api/v1/nodes?watch=true&dryRun=x", "/api/v1/namespaces/default/configmaps/x?watch=1"):
        _send(conn, Case("query", "GET", path, [("Accept", "text/html")]), report)
    _send(conn, Case("query", "GET", "/api/v1/nodes?watch=false"), report)
    assert report.timeouts == 0 and report.status[200] == 3, report.findings
    conn.close()
