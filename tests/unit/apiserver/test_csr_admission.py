"""CertificateApproval, CertificateSigning and CertificateSubjectRestriction decisions, with
upstream's messages byte for byte (plugin/pkg/admission/certificates and their tests)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver.admission.certificates import forbidden, refusal, signer_allowed
from kprov.cluster.apiserver.attributes import AdmissionAttributes
from kprov.cluster.apiserver.authz.bootstrap_policy import bootstrap_cluster_roles
from kprov.cluster.apiserver.authz.controller_policy import controller_cluster_roles
from kprov.cluster.apiserver.authz.rbac_rules import Rule
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.requestinfo import RequestInfo

CSRS = REGISTRY.get("certificates.k8s.io", "v1", "certificatesigningrequests")
PODS = REGISTRY.get("", "v1", "pods")
BOB = UserInfo("bob", ("system:authenticated",))


def _granting(verb: str, *names: str) -> Any:
    """An ``allows`` holding ``verb`` on signers named ``names``, and what it was asked."""
    asked: list[RequestInfo] = []

    def allows(ri: RequestInfo) -> bool:
        asked.append(ri)
        wanted = ("certificates.k8s.io", "signers", verb)
        return (ri.group, ri.resource, ri.verb) == wanted and ri.name in names

    allows.asked = asked  # type: ignore[attr-defined]
    return allows


def _csr(signer: str, status: dict[str, Any] | None = None, request: str = "") -> dict[str, Any]:
    csr: dict[str, Any] = {"metadata": {"name": "csr-1"}, "spec": {"signerName": signer, "request": request}}
    if status is not None:
        csr["status"] = status
    return csr


def _update(
    old: dict[str, Any], new: dict[str, Any], sub: str, user: UserInfo | None = BOB
) -> AdmissionAttributes:
    assert CSRS is not None
    return AdmissionAttributes(CSRS, "UPDATE", new, old, user, sub)


APPROVED = {"conditions": [{"type": "Approved", "status": "True", "reason": "r"}]}


@pytest.mark.parametrize(
    ("granted", "refused"),
    [
        (("abc.com/xyz",), False),  # the signer by name
        (("abc.com/*",), False),  # the signer's domain
        (("notabc.com/xyz",), True),
        (("abc.com/other",), True),
        ((), True),
    ],
)
def test_approval_needs_approve_on_the_signer_or_its_domain(granted: tuple[str, ...], refused: bool) -> None:
    attrs = _update(_csr("abc.com/xyz"), _csr("abc.com/xyz", APPROVED), "approval")
    why = refusal(attrs, _granting("approve", *granted))
    if refused:
        assert why == 'user not permitted to approve requests with signerName "abc.com/xyz"'
    else:
        assert why is None


def test_approval_asks_for_the_exact_name_then_the_wildcard_at_any_version() -> None:
    allows = _granting("approve")
    refusal(_update(_csr("example.com/a/b"), _csr("example.com/a/b", APPROVED), "approval"), allows)
    assert [(ri.version, ri.name, ri.namespace, ri.subresource) for ri in allows.asked] == [
        ("*", "example.com/a/b", "", ""),
        ("*", "example.com/*", "", ""),
    ]


def test_approval_judges_the_stored_signer_not_the_one_sent() -> None:
    """Upstream's case: moving the request to a signer one may approve does not help."""
    attrs = _update(_csr("notallowed.com/xyz"), _csr("allowed.com/xyz", APPROVED), "approval")
    assert refusal(attrs, _granting("approve", "allowed.com/xyz")) == (
        'user not permitted to approve requests with signerName "notallowed.com/xyz"'
    )


def test_approve_is_not_sign_and_sign_is_not_approve() -> None:
    approval = _update(_csr("abc.com/xyz"), _csr("abc.com/xyz", APPROVED), "approval")
    assert refusal(approval, _granting("sign", "abc.com/xyz")) is not None
    issued = {**APPROVED, "certificate": "ZGF0YQ=="}
    issue = _update(_csr("abc.com/xyz", APPROVED), _csr("abc.com/xyz", issued), "status")
    assert refusal(issue, _granting("approve", "abc.com/xyz")) == (
        'user not permitted to sign requests with signerName "abc.com/xyz"'
    )
    assert refusal(issue, _granting("sign", "abc.com/*")) is None


def test_signing_is_checked_only_when_the_certificate_or_the_conditions_change() -> None:
    nothing = _granting("sign")
    issued = {**APPROVED, "certificate": "ZGF0YQ=="}
    same = _update(_csr("abc.com/xyz", issued), _csr("abc.com/xyz", issued), "status")
    assert refusal(same, nothing) is None and nothing.asked == []
    failed = {"conditions": [*APPROVED["conditions"], {"type": "Failed", "status": "True"}]}
    condition = _update(_csr("abc.com/xyz", APPROVED), _csr("abc.com/xyz", failed), "status")
    assert refusal(condition, nothing) == 'user not permitted to sign requests with signerName "abc.com/xyz"'
    moved = _update(_csr("notallowed.com/xyz"), _csr("allowed.com/xyz", issued), "status")
    assert refusal(moved, _granting("sign", "allowed.com/xyz")) == (
        'user not permitted to sign requests with signerName "notallowed.com/xyz"'
    )


def test_other_writes_are_not_these_plugins_business() -> None:
    nothing = _granting("approve")
    by_the_server = _update(_csr("a.com/b"), _csr("a.com/b", APPROVED), "approval", user=None)
    assert refusal(by_the_server, nothing) is None
    assert refusal(_update(_csr("a.com/b"), _csr("a.com/b"), ""), nothing) is None  # the main resource
    assert PODS is not None
    pod = AdmissionAttributes(PODS, "UPDATE", {"metadata": {}}, {"metadata": {}}, BOB, "approval")
    assert refusal(pod, nothing) is None
    disabled = _update(_csr("a.com/b"), _csr("a.com/b", APPROVED), "approval")
    assert refusal(disabled, nothing, ("CertificateApproval",)) is None
    assert refusal(disabled, nothing, ("CertificateSigning",)) is not None


def _request(*organizations: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    names.append(x509.NameAttribute(NameOID.COMMON_NAME, "alice"))
    pem = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, hashes.SHA256())
    return base64.b64encode(pem.public_bytes(serialization.Encoding.PEM)).decode()


@pytest.mark.parametrize(
    ("signer", "organizations", "refused"),
    [
        ("kubernetes.io/kube-apiserver-client", ("system:masters",), True),
        ("kubernetes.io/kube-apiserver-client", ("devs", "system:masters"), True),
        ("kubernetes.io/kube-apiserver-client", ("devs",), False),
        ("kubernetes.io/kube-apiserver-client-kubelet", ("system:masters",), False),  # not its signer
        ("example.com/any", ("system:masters",), False),
    ],
)
def test_subject_restriction_keeps_system_masters_off_the_client_signer(
    signer: str, organizations: tuple[str, ...], refused: bool
) -> None:
    assert CSRS is not None
    attrs = AdmissionAttributes(CSRS, "CREATE", _csr(signer, request=_request(*organizations)), None, BOB)
    why = refusal(attrs, _granting("approve"))
    expected = "use of kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"
    assert why == (expected if refused else None)
    assert refusal(attrs, _granting("approve"), ("CertificateSubjectRestriction",)) is None


def test_an_unparsable_request_is_refused_as_upstream_words_it() -> None:
    assert CSRS is not None
    garbage = base64.b64encode(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").decode()
    csr = _csr("kubernetes.io/kube-apiserver-client", request=garbage)
    attrs = AdmissionAttributes(CSRS, "CREATE", csr, None, BOB)
    why = refusal(attrs, _granting("approve"))
    assert why == "failed to parse CSR: PEM block type must be CERTIFICATE REQUEST"


def test_the_refusal_is_admissions_forbidden_status() -> None:
    attrs = _update(_csr("abc.com/xyz"), _csr("abc.com/xyz", APPROVED), "approval")
    error = forbidden(attrs, 'user not permitted to approve requests with signerName "abc.com/xyz"')
    assert error.code == 403 and error.reason == "Forbidden"
    assert str(error.message) == (
        'certificatesigningrequests.certificates.k8s.io "csr-1" is forbidden: '
        'user not permitted to approve requests with signerName "abc.com/xyz"'
    )
    details = {"name": "csr-1", "group": "certificates.k8s.io", "kind": "certificatesigningrequests"}
    assert error.details == details


def test_an_rbac_rule_naming_the_domain_wildcard_grants_every_signer_of_the_domain() -> None:
    """The wildcard is a literal resource name in a role, as upstream's docs show it."""
    rule = Rule.of({"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "verbs": ["approve"],
                    "resourceNames": ["example.com/*"]})
    assert signer_allowed(rule.allows, "approve", "example.com/my-signer")
    assert not signer_allowed(rule.allows, "approve", "other.com/my-signer")
    assert not signer_allowed(rule.allows, "sign", "example.com/my-signer")


def _role_allows(role: dict[str, Any]) -> Any:
    rules = [Rule.of(rule) for rule in role["rules"]]
    return lambda ri: any(rule.allows(ri) for rule in rules)


def test_kprovs_own_approvers_and_signer_hold_what_admission_now_asks() -> None:
    """Without these grants kubelet bootstrap would stop at the new checks."""
    every = [*controller_cluster_roles(), *bootstrap_cluster_roles()]
    roles = {r["metadata"]["name"]: _role_allows(r) for r in every}
    certificates = roles["system:controller:certificate-controller"]
    assert signer_allowed(certificates, "approve", "kubernetes.io/kube-apiserver-client-kubelet")
    assert not signer_allowed(certificates, "approve", "kubernetes.io/kube-apiserver-client")
    for signer in ("kubernetes.io/kube-apiserver-client-kubelet", "kubernetes.io/kubelet-serving",
                   "kubernetes.io/kube-apiserver-client", "kubernetes.io/legacy-unknown"):
        assert signer_allowed(certificates, "sign", signer)
        approver = roles[f"system:certificates.k8s.io:{signer.removeprefix('kubernetes.io/')}-approver"]
        assert signer_allowed(approver, "approve", signer) and not signer_allowed(approver, "sign", signer)
    serving = roles["system:controller:kubelet-serving-approver"]
    assert signer_allowed(serving, "approve", "kubernetes.io/kubelet-serving")
    assert not signer_allowed(serving, "approve", "kubernetes.io/kube-apiserver-client")
