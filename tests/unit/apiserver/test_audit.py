"""Audit policy evaluation (first matching rule, each field a filter, omitStages) and the
writer's JSON lines and rotation."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from kprov.cluster.apiserver.audit import AuditLog, AuditWriter, load_policy
from kprov.cluster.apiserver.authn import UserInfo
from kprov.cluster.apiserver.requestinfo import parse_request_info

POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "rules": [
        {"level": "None", "nonResourceURLs": ["/healthz*", "/version"]},
        {"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"]},
        {"level": "RequestResponse", "resources": [{"group": "", "resources": ["configmaps"]}],
         "namespaces": ["audited"]},
        {"level": "Request", "resources": [{"group": "", "resources": ["pods/log"]}]},
        {"level": "None", "resources": [{"group": "", "resources": ["secrets"], "resourceNames": ["quiet"]}]},
        {"level": "Metadata", "omitStages": ["RequestReceived"]},
    ],
}
ALICE = UserInfo("alice", ("devs", "system:authenticated"))


def _level(method: str, path: str, user: UserInfo | None = ALICE, watch: bool = False) -> str:
    ri = parse_request_info(method, path, watch)
    verb = ri.verb if ri else method.lower()
    return load_policy(POLICY).level(user, verb, ri, path)


def test_first_matching_rule_decides():
    assert _level("GET", "/healthz/etcd") == "None"
    assert _level("GET", "/version") == "None"
    assert _level("GET", "/metrics") == "Metadata"
    proxy = UserInfo("system:kube-proxy", ())
    assert _level("GET", "/api/v1/services", proxy, watch=True) == "None"
    assert _level("GET", "/api/v1/services", proxy) == "Metadata"
    assert _level("POST", "/api/v1/namespaces/audited/configmaps") == "RequestResponse"
    assert _level("POST", "/api/v1/namespaces/other/configmaps") == "Metadata"
    assert _level("GET", "/api/v1/namespaces/a/pods/x/log") == "Request"
    assert _level("GET", "/api/v1/namespaces/a/pods/x") == "Metadata"
    assert _level("GET", "/api/v1/namespaces/a/secrets/quiet") == "None"
    assert _level("GET", "/api/v1/namespaces/a/secrets/loud") == "Metadata"


def test_omitting_response_complete_silences_and_bad_levels_fail():
    doc = {"kind": "Policy", "omitStages": ["ResponseComplete"], "rules": [{"level": "Metadata"}]}
    policy = load_policy(doc)
    assert policy.level(ALICE, "get", None, "/metrics") == "None"
    with pytest.raises(ValueError, match="Unsupported value"):
        load_policy({"kind": "Policy", "rules": [{"level": "Everything"}]})


def _request(path: str, method: str = "POST") -> SimpleNamespace:
    peer = ("10.0.0.7", 5555)
    transport = SimpleNamespace(get_extra_info=lambda name: peer if name == "peername" else None)
    return SimpleNamespace(path=path, query_string="fieldManager=x", method=method, transport=transport,
                           headers={"User-Agent": "kubectl/v1.32.0"})


def test_event_lines_have_the_audit_shape(tmp_path: Path):
    import datetime

    log = AuditLog(load_policy(POLICY), AuditWriter(str(tmp_path / "audit.log")))
    path = "/api/v1/namespaces/audited/configmaps"
    ri = parse_request_info("POST", path, False)
    received = datetime.datetime.now(datetime.UTC)
    body = b'{"kind":"ConfigMap"}'
    log.record("RequestResponse", _request(path), ri, ALICE, received, 201, body, b'{"a":1}')
    log.writer.close()
    event = json.loads((tmp_path / "audit.log").read_text().splitlines()[0])
    assert event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1"
    assert event["stage"] == "ResponseComplete" and event["verb"] == "create"
    assert event["requestURI"] == f"{path}?fieldManager=x"
    assert event["user"] == {"username": "alice", "groups": ["devs", "system:authenticated"]}
    assert event["sourceIPs"] == ["10.0.0.7"] and event["userAgent"] == "kubectl/v1.32.0"
    assert event["objectRef"] == {"resource": "configmaps", "namespace": "audited", "apiVersion": "v1"}
    assert event["responseStatus"]["code"] == 201
    assert event["requestObject"] == {"kind": "ConfigMap"} and event["responseObject"] == {"a": 1}
    assert event["requestReceivedTimestamp"] == received.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert event["stageTimestamp"] >= event["requestReceivedTimestamp"]
    audit_id = uuid.UUID(event["auditID"])
    assert str(audit_id) == event["auditID"] and audit_id.version == 4 and audit_id.variant == uuid.RFC_4122
    assert (tmp_path / "audit.log").stat().st_mode & 0o777 == 0o600


def test_rotation_keeps_max_backups(tmp_path: Path):
    writer = AuditWriter(str(tmp_path / "audit.log"), max_size_mb=1, max_backups=2)
    line = b"x" * (400 * 1024) + b"\n"
    for _ in range(12):
        writer.write(line)
    writer.close()
    rotated = sorted(p.name for p in tmp_path.glob("audit-*.log"))
    assert len(rotated) == 2, rotated
    assert (tmp_path / "audit.log").stat().st_size <= 1024 * 1024
