"""The audit log of a real API server (a second one on the shared etcd, started with
--audit-policy-file/--audit-log-path): a create and a refused request appear as
audit.k8s.io/v1 Events with user, verb, resource and response code; the health check the
policy excludes does not."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from kprov.local.control_plane import apiserver_argv
from kprov.local.ports import free_port, wait_for_port
from kprov.pki import ADMIN_CN
from tests.integration.apiserver._http import request, ssl_context

POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/readyz*", "/livez*"]
  - level: Metadata
"""


def _events(path: Path, want: int, timeout: float = 10.0) -> list[dict]:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        events = [json.loads(line) for line in lines]
        if len(events) >= want or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def test_audit_log_records_requests(control_plane, tmp_path: Path):
    policy, log = tmp_path / "policy.yaml", tmp_path / "audit" / "audit.log"
    policy.write_text(POLICY)
    port = free_port()
    argv = apiserver_argv(
        control_plane.plane.pki, control_plane.etcd_url, port, f"--audit-policy-file={policy}",
        f"--audit-log-path={log}", "--audit-log-maxsize=10", "--audit-log-maxbackup=2",
    )
    with open(tmp_path / "apiserver.log", "wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert wait_for_port("127.0.0.1", port, 60), (tmp_path / "apiserver.log").read_text()
        server = f"https://127.0.0.1:{port}"
        anonymous = ssl_context(None, control_plane.ca_file)
        deadline = time.monotonic() + 30
        while request(server, anonymous, "GET", "/readyz")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        admin = ssl_context(control_plane.admin_kubeconfig, control_plane.ca_file)
        body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "audited-ns"}})
        status, _, _ = request(server, admin, "POST", "/api/v1/namespaces", body.encode())
        assert status in (201, 409)
        stranger_config = control_plane.kubeconfig_for("audit-stranger", ["audit-team"])
        stranger = ssl_context(stranger_config, control_plane.ca_file)
        assert request(server, stranger, "GET", "/api/v1/namespaces/kube-system/secrets")[0] == 403
        events = _events(log, 2)
        create = next(
            e for e in events if e["verb"] == "create" and e["objectRef"]["resource"] == "namespaces"
        )
        assert create["user"]["username"] == ADMIN_CN
        assert create["responseStatus"]["code"] == status and create["level"] == "Metadata"
        assert create["stage"] == "ResponseComplete" and create["apiVersion"] == "audit.k8s.io/v1"
        refused = next(e for e in events if e["user"].get("username") == "audit-stranger")
        assert refused["verb"] == "list" and refused["objectRef"] == {
            "resource": "secrets", "namespace": "kube-system", "apiVersion": "v1"
        }
        assert refused["responseStatus"]["code"] == 403 and "audit-team" in refused["user"]["groups"]
        assert refused["sourceIPs"] == ["127.0.0.1"]
        assert not [e for e in events if e["requestURI"].startswith("/readyz")]
        assert log.stat().st_mode & 0o777 == 0o600
    finally:
        proc.terminate()
        proc.wait(10)
