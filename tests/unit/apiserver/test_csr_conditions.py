"""A CSR's conditions on /approval and /status writes: timestamps filled as upstream's
registry strategies fill them, and /status keeps the stored approval."""

from __future__ import annotations

import base64
from typing import Any

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver.handlers.csr_conditions import keep_approval_conditions, stamp_conditions
from kprov.cluster.apiserver.handlers.lifecycle import prepare_update

NOW = "2026-11-27T12:00:00Z"
EARLIER = "2026-11-27T10:00:00Z"
CSRS = REGISTRY.get("certificates.k8s.io", "v1", "certificatesigningrequests")


def test_missing_times_are_now_and_a_kept_transition_keeps_its_time() -> None:
    old = {"conditions": [{"type": "Approved", "status": "True", "lastTransitionTime": EARLIER}]}
    new: list[Any] = [
        {"type": "Approved", "status": "True"},
        {"type": "Failed", "status": "True"},
        {"type": "Other", "status": "False", "lastUpdateTime": EARLIER, "lastTransitionTime": EARLIER},
    ]
    stamp_conditions(old, new, NOW)
    assert new[0] == {
        "type": "Approved", "status": "True", "lastUpdateTime": NOW, "lastTransitionTime": EARLIER
    }
    assert new[1] == {"type": "Failed", "status": "True", "lastUpdateTime": NOW, "lastTransitionTime": NOW}
    assert new[2]["lastUpdateTime"] == EARLIER and new[2]["lastTransitionTime"] == EARLIER


def test_status_writes_keep_the_stored_approval_unless_they_add_or_remove_one() -> None:
    stored = {"type": "Approved", "status": "True", "reason": "AutoApproved", "lastUpdateTime": EARLIER}
    sent: list[Any] = [{"type": "Approved", "status": "True", "reason": "Changed"}, {"type": "Failed"}]
    keep_approval_conditions({"conditions": [stored]}, sent)
    assert sent == [stored, {"type": "Failed"}]
    added: list[Any] = [{"type": "Denied", "status": "True"}]
    keep_approval_conditions({"conditions": []}, added)
    assert added == [{"type": "Denied", "status": "True"}]  # validation's business


def test_an_approval_through_the_subresource_is_stamped() -> None:
    assert CSRS is not None
    old = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
           "metadata": {"name": "c", "uid": "u"}, "spec": {"signerName": "a.com/b"}}
    new = {**old, "status": {"conditions": [{"type": "Approved", "status": "True", "reason": "r"}]}}
    stored = prepare_update(CSRS, old, new, "approval")
    (approved,) = stored["status"]["conditions"]
    assert approved["lastUpdateTime"] and approved["lastTransitionTime"] == approved["lastUpdateTime"]
    signed = {**stored, "status": {"certificate": "eA==", "conditions": [
        {"type": "Approved", "status": "True", "reason": "rewritten"}]}}
    after = prepare_update(CSRS, stored, signed, "status")
    assert after["status"]["conditions"] == [approved] and after["status"]["certificate"] == "eA=="


def _pem(body: str) -> str:
    pem = f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
    return base64.b64encode(pem.encode()).decode()


def _causes(old: dict[str, Any], new: dict[str, Any], sub: str) -> list[str]:
    from kprov.cluster.api.validation.core import validate

    assert CSRS is not None
    base = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": "c", "resourceVersion": "1"}, "spec": {"signerName": "a.com/b"}}
    return [str(c) for c in validate(CSRS, {**base, **new}, {**base, **old}, sub)]


def test_status_may_not_approve_deny_or_replace_the_certificate_and_nothing_removes_a_verdict() -> None:
    approved = {"type": "Approved", "status": "True"}
    failed = {"type": "Failed", "status": "True"}
    assert _causes({}, {"status": {"conditions": [approved]}}, "status") == [
        'status.conditions: Forbidden: updates may not add a condition of type "Approved"']
    assert _causes({}, {"status": {"conditions": [approved]}}, "approval") == []
    removed = _causes({"status": {"conditions": [approved, failed]}}, {"status": {"conditions": [approved]}},
                      "approval")
    assert removed == ['status.conditions: Forbidden: updates may not remove a condition of type "Failed"']
    issued = {"status": {"conditions": [approved], "certificate": _pem("AA==")}}
    other = {"status": {"conditions": [approved], "certificate": _pem("AQ==")}}
    assert _causes(issued, other, "status") == [
        "status.certificate: Forbidden: updates may not modify existing certificate content"]
    assert _causes({"status": {"conditions": [approved]}}, issued, "status") == []
