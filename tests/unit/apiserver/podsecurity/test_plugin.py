"""PodSecurity's decisions: enforce, audit and warn on pods and controllers, exemptions, the
namespace label checks and warnings, and the configuration file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kprov.cluster.apiserver.admission.podsecurity.configuration import (
    ConfigurationError,
    PodSecurityConfig,
    load_admission_config,
    parse_config,
)
from kprov.cluster.apiserver.admission.podsecurity.levels import LevelVersion, Policy, Version
from kprov.cluster.apiserver.admission.podsecurity.metrics import version_label
from kprov.cluster.apiserver.admission.podsecurity.plugin import PodSecurity, is_significant_pod_update

P = "pod-security.kubernetes.io/"
PRIVILEGED_SPEC: dict[str, Any] = {
    "containers": [{"name": "c", "image": "i", "securityContext": {"privileged": True}}]
}
HOSTPATH_SPEC: dict[str, Any] = {
    "containers": [{"name": "c"}],
    "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
}


def plugin(**config: Any) -> PodSecurity:
    return PodSecurity(PodSecurityConfig(**config))


def test_enforce_refuses_with_upstreams_status() -> None:
    decision = plugin().evaluate({P + "enforce": "baseline"}, "pods", "x", {}, PRIVILEGED_SPEC, True)
    assert decision.denial is not None
    assert decision.denial.status_dict(getattr(decision.denial, "details", None)) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "x" is forbidden: violates PodSecurity "baseline:latest": '
        'privileged (container "c" must not set securityContext.privileged=true)',
        "code": 403,
        "reason": "Forbidden",
        "details": {"name": "x", "kind": "pods"},
    }
    assert decision.warnings == []  # a refused pod is not also warned about
    assert decision.audit_annotations == {"enforce-policy": "baseline:latest"}


def test_warn_and_audit_admit() -> None:
    labels = {P + "warn": "baseline", P + "audit": "restricted", P + "audit-version": "v1.30"}
    decision = plugin().evaluate(labels, "pods", "x", {}, HOSTPATH_SPEC, True)
    assert decision.denial is None
    assert decision.warnings == ['would violate PodSecurity "baseline:latest": hostPath volumes (volume "h")']
    assert decision.audit_annotations["enforce-policy"] == "privileged:latest"
    audited = decision.audit_annotations["audit-violations"]
    assert audited.startswith('would violate PodSecurity "restricted:v1.30": allowPrivilegeEscalation')
    assert 'restricted volume types (volume "h" uses restricted volume type "hostPath")' in audited


def test_controllers_are_warned_never_refused() -> None:
    decision = plugin().evaluate(
        {P + "enforce": "restricted"}, "deployments.apps", "d", {}, PRIVILEGED_SPEC, False
    )
    assert decision.denial is None
    assert decision.warnings and decision.warnings[0].startswith(
        'would violate PodSecurity "restricted:latest": privileged'
    )
    assert "enforce-policy" not in decision.audit_annotations
    assert plugin().evaluate({}, "deployments.apps", "d", {}, PRIVILEGED_SPEC, False).warnings == []


def test_cluster_defaults_apply_to_unlabelled_namespaces() -> None:
    strict = plugin(defaults=Policy(enforce=LevelVersion("baseline")))
    assert strict.evaluate({}, "pods", "x", {}, PRIVILEGED_SPEC, True).denial is not None
    assert (
        strict.evaluate({P + "enforce": "privileged"}, "pods", "x", {}, PRIVILEGED_SPEC, True).denial is None
    )


def test_exemptions() -> None:
    exempting = plugin(
        exempt_namespaces=frozenset({"ops"}),
        exempt_usernames=frozenset({"admin"}),
        exempt_runtime_classes=frozenset({"kata"}),
    )
    assert exempting.exemption("ops", "someone").audit_annotations == {"exempt": "namespace"}  # type: ignore[union-attr]
    assert exempting.exemption("dev", "admin").audit_annotations == {"exempt": "user"}  # type: ignore[union-attr]
    assert exempting.exemption("dev", "someone") is None
    kata = {**PRIVILEGED_SPEC, "runtimeClassName": "kata"}
    decision = exempting.evaluate({P + "enforce": "restricted"}, "pods", "x", {}, kata, True)
    assert decision.denial is None and decision.audit_annotations == {"exempt": "runtimeClass"}


def _pod(name: str, spec: dict[str, Any], owner: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "controller": True}]
    return {"metadata": meta, "spec": spec}


def test_tightening_enforce_warns_with_the_violating_pods() -> None:
    pods = [
        _pod("b", PRIVILEGED_SPEC, "rs1"),
        _pod("a", PRIVILEGED_SPEC, "rs1"),
        _pod("z", PRIVILEGED_SPEC),
        _pod("h", HOSTPATH_SPEC),
        _pod("ok", {"containers": [{"name": "c"}]}),
    ]
    decision = plugin().validate_namespace("ns", {P + "enforce": "baseline"}, {}, pods)
    assert decision.denial is None
    assert decision.warnings == [
        'existing pods in namespace "ns" violate the new PodSecurity enforce level "baseline:latest"',
        "a (and 2 other pods): privileged",
        "h: hostPath volumes",
    ]
    # loosening, or the same level, or privileged: no evaluation
    assert (
        plugin()
        .validate_namespace("ns", {P + "enforce": "baseline"}, {P + "enforce": "restricted"}, pods)
        .warnings
        == []
    )
    assert (
        plugin()
        .validate_namespace("ns", {P + "enforce": "privileged"}, {P + "enforce": "baseline"}, pods)
        .warnings
        == []
    )


def test_bad_namespace_labels_are_invalid() -> None:
    decision = plugin().validate_namespace("ns", {P + "enforce": "strict"}, None, None)
    assert decision.denial is not None and decision.denial.code == 422
    assert str(decision.denial) == (
        'Namespace "ns" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: '
        'Invalid value: "strict": must be one of privileged, baseline, restricted'
    )
    # an update that keeps the same bad labels is let through, as upstream does
    bad = {P + "enforce": "strict"}
    assert plugin().validate_namespace("ns", bad, bad, []).denial is None


def test_exempt_namespace_labels_warn_they_are_ignored() -> None:
    exempting = plugin(exempt_namespaces=frozenset({"ops"}))
    decision = exempting.validate_namespace(
        "ops", {P + "enforce": "restricted", P + "warn": "baseline"}, None, None
    )
    assert decision.warnings == [
        'namespace "ops" is exempt from Pod Security, and the policy (enforce=restricted:latest, '
        "warn=baseline:latest) will be ignored"
    ]


def test_significant_pod_updates() -> None:
    old = {"spec": {"containers": [{"name": "c", "image": "a"}]}}
    assert not is_significant_pod_update({"spec": {"containers": [{"name": "c", "image": "a"}], "x": 1}}, old)
    assert is_significant_pod_update({"spec": {"containers": [{"name": "c", "image": "b"}]}}, old)
    added = {"spec": {**old["spec"], "ephemeralContainers": [{"name": "debug", "image": "a"}]}}
    assert is_significant_pod_update(added, old)


def test_configuration(tmp_path: Path) -> None:
    config = tmp_path / "admission.yaml"
    config.write_text(
        """apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
  - name: PodSecurity
    configuration:
      apiVersion: pod-security.admission.config.k8s.io/v1
      kind: PodSecurityConfiguration
      defaults:
        enforce: baseline
        enforce-version: v1.30
        warn: restricted
      exemptions:
        usernames: [admin]
        namespaces: [kube-system]
        runtimeClasses: [kata]
"""
    )
    loaded = load_admission_config(str(config))
    assert str(loaded.defaults.enforce) == "baseline:v1.30"
    assert str(loaded.defaults.warn) == "restricted:latest"
    assert str(loaded.defaults.audit) == "privileged:latest"
    assert loaded.exempt_usernames == {"admin"} and loaded.exempt_namespaces == {"kube-system"}
    assert loaded.exempt_runtime_classes == {"kata"}
    assert load_admission_config("") == PodSecurityConfig()
    with pytest.raises(ConfigurationError) as refused:
        parse_config(
            {
                "apiVersion": "pod-security.admission.config.k8s.io/v1",
                "kind": "PodSecurityConfiguration",
                "defaults": {"enforce": "strict"},
                "exemptions": {"namespaces": ["a", "a", "Bad_NS"], "usernames": [""]},
            }
        )
    text = str(refused.value)
    assert 'defaults.enforce: Invalid value: "strict"' in text
    assert 'exemptions.namespaces[1]: Duplicate value: "a"' in text
    assert 'exemptions.namespaces[2]: Invalid value: "Bad_NS"' in text
    assert 'exemptions.usernames[0]: Invalid value: "": username must not be empty' in text


def test_what_the_metrics_count() -> None:
    labels = {P + "enforce": "baseline", P + "audit": "restricted", P + "warn": "restricted"}
    decision = plugin().evaluate(labels, "pods", "x", {}, HOSTPATH_SPEC, True)
    assert [(verdict, str(lv), mode) for verdict, lv, mode in decision.evaluations] == [
        ("deny", "baseline:latest", "enforce"),
        ("deny", "restricted:latest", "audit"),
    ]  # no warn evaluation once enforce refused
    unlabelled = plugin().evaluate({}, "pods", "x", {}, HOSTPATH_SPEC, True)
    counted = [(v, str(lv), m) for v, lv, m in unlabelled.evaluations]
    assert counted == [("allow", "privileged:latest", "enforce")]
    assert version_label(LevelVersion("baseline", Version(33))) == "future"
    assert version_label(LevelVersion("baseline", Version(25))) == "v1.25"
    assert version_label(LevelVersion("privileged", Version(25))) == "latest"


@pytest.mark.parametrize(
    "defaults", [Policy(), Policy(enforce=LevelVersion("baseline"), warn=LevelVersion("restricted"))]
)
def test_the_policy_memo_answers_as_the_labels_parsed_afresh(defaults: Policy) -> None:
    """The plugin keeps each label set's parsed policy; every answer, first or remembered, is
    what policy_to_evaluate gives for the namespace's whole labels, errors included, and a
    caller's changes to the error list do not reach the next answer."""
    from kprov.cluster.apiserver.admission.podsecurity.levels import policy_to_evaluate

    label_sets: list[dict[str, str]] = [
        {},
        {"kubernetes.io/metadata.name": "a"},
        {"kubernetes.io/metadata.name": "b", "team": "x"},
        {P + "enforce": "restricted", "kubernetes.io/metadata.name": "c"},
        {P + "enforce": "baseline", P + "enforce-version": "v1.25"},
        {P + "enforce-version": "v1.25", P + "enforce": "baseline"},
        {P + "enforce": "nonsense", P + "warn-version": "vX", "other": "1"},
        {P + "audit": "restricted", P + "warn": "privileged"},
        {"pod-security.kubernetes.io": "no slash", P + "enforce": "privileged"},
    ]
    memo = plugin(defaults=defaults)
    for _ in range(3):
        for labels in label_sets:
            expected = policy_to_evaluate(labels, defaults)
            got = memo.policy(labels)
            assert got == expected, labels
            got[1].append("changed by a caller")  # type: ignore[arg-type]
    assert memo.policy(None) == (defaults, [])
