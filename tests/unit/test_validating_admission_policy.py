"""ValidatingAdmissionPolicy: matching, evaluation, validation, defaults and printing, free of
the server."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.api import defaults, validation
from kprov.cluster.api._printers_admission import VALIDATINGADMISSIONPOLICY, VALIDATINGADMISSIONPOLICYBINDING
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.apiserver.vap.evaluator import compile_policy
from kprov.cluster.apiserver.vap.matching import Attributes, matches

POLICY_INFO: Any = REGISTRY.get("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies")
BINDING_INFO: Any = REGISTRY.get("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings")
RULE = {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["deployments"]}


def _deployment(replicas: int, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "d", "namespace": "n", "labels": labels or {}},
        "spec": {"replicas": replicas},
    }


def _attrs(operation: str = "CREATE", resource: str = "deployments", **kw: Any) -> Attributes:
    return Attributes(
        group=kw.pop("group", "apps"),
        version="v1",
        resource=resource,
        kind="Deployment",
        operation=operation,
        name=kw.pop("name", "d"),
        namespace="n",
        namespaced=True,
        **kw,
    )


# -- matching ----------------------------------------------------------------------------------
def test_rules_match_operation_group_resource_and_wildcards() -> None:
    assert matches({"resourceRules": [RULE]}, _attrs(), {})
    assert not matches({"resourceRules": [RULE]}, _attrs("UPDATE"), {})
    assert not matches({"resourceRules": [RULE]}, _attrs(resource="replicasets"), {})
    star = {**RULE, "apiGroups": ["*"], "resources": ["*"], "operations": ["*"]}
    assert matches({"resourceRules": [star]}, _attrs("DELETE", resource="pods", group=""), {})
    assert not matches({"resourceRules": [star]}, _attrs(resource="deployments", subresource="scale"), {})
    sub = {**star, "resources": ["deployments/scale"]}
    assert matches({"resourceRules": [sub]}, _attrs(subresource="scale"), {})


def test_exclusions_names_and_selectors() -> None:
    match = {"resourceRules": [RULE], "excludeResourceRules": [{**RULE, "resourceNames": ["skip"]}]}
    assert matches(match, _attrs(), {})
    assert not matches(match, _attrs(name="skip"), {})
    by_ns = {"resourceRules": [RULE], "namespaceSelector": {"matchLabels": {"env": "prod"}}}
    assert matches(by_ns, _attrs(), {"env": "prod"})
    assert not matches(by_ns, _attrs(), {"env": "dev"})
    by_obj = {"resourceRules": [RULE], "objectSelector": {"matchLabels": {"app": "x"}}}
    assert matches(by_obj, _attrs(obj=_deployment(1, {"app": "x"})), {})
    assert not matches(by_obj, _attrs(obj=_deployment(1)), {})
    assert matches(None, _attrs(), {})  # a binding without matchResources


# -- evaluation --------------------------------------------------------------------------------
def test_validation_messages_and_reasons() -> None:
    compiled = compile_policy(
        {
            "metadata": {"name": "p"},
            "spec": {
                "validations": [
                    {"expression": "object.spec.replicas <= 5"},
                    {"expression": "object.spec.replicas <= 3", "message": "too many", "reason": "Forbidden"},
                    {
                        "expression": "object.spec.replicas <= 2",
                        "messageExpression": "'replicas: ' + string(object.spec.replicas)",
                    },
                ]
            },
        }
    )
    assert compiled.evaluate({"object": _deployment(1)}).decisions == []
    decisions = compiled.evaluate({"object": _deployment(10)}).decisions
    assert [(d.message, d.reason) for d in decisions] == [
        ("failed expression: object.spec.replicas <= 5", "Invalid"),
        ("too many", "Forbidden"),
        ("replicas: 10", "Invalid"),
    ]


def test_match_conditions_variables_params_and_failure_policy() -> None:
    spec = {
        "matchConditions": [{"name": "big-only", "expression": "object.spec.replicas > 1"}],
        "variables": [
            {"name": "limit", "expression": "int(params.data.max)"},
            {"name": "over", "expression": "object.spec.replicas > variables.limit"},
        ],
        "validations": [{"expression": "!variables.over"}],
    }
    compiled = compile_policy({"metadata": {"name": "p"}, "spec": spec})
    params = {"data": {"max": "3"}}
    assert compiled.evaluate({"object": _deployment(1), "params": params}).decisions == []  # not matched
    assert compiled.evaluate({"object": _deployment(3), "params": params}).decisions == []
    assert len(compiled.evaluate({"object": _deployment(4), "params": params}).decisions) == 1
    broken = compile_policy(
        {"metadata": {"name": "p"}, "spec": {"validations": [{"expression": "object.nope"}]}}
    )
    (error,) = broken.evaluate({"object": _deployment(4)}).decisions
    assert error.error and error.message == "expression 'object.nope' resulted in error: no such key: nope"
    ignored = compile_policy(
        {
            "metadata": {"name": "p"},
            "spec": {"failurePolicy": "Ignore", "validations": [{"expression": "object.nope"}]},
        }
    )
    assert ignored.evaluate({"object": _deployment(4)}).decisions == []


def test_audit_annotations() -> None:
    compiled = compile_policy(
        {
            "metadata": {"name": "p"},
            "spec": {
                "auditAnnotations": [
                    {"key": "size", "valueExpression": "'replicas ' + string(object.spec.replicas)"},
                    {"key": "none", "valueExpression": "null"},
                ]
            },
        }
    )
    result = compiled.evaluate({"object": _deployment(4)})
    assert [(a.key, a.value) for a in result.annotations] == [("size", "replicas 4")]


# -- validation, defaults, printing ------------------------------------------------------------
def _causes(info: Any, obj: dict[str, Any]) -> list[str]:
    return [str(c) for c in validation.validate(info, obj)]


def test_policy_validation_paths() -> None:
    base = {"metadata": {"name": "p"}, "spec": {"failurePolicy": "Fail"}}
    causes = _causes(POLICY_INFO, base)
    assert "spec.matchConstraints: Required value" in causes
    assert (
        "spec.validations: Required value: validations or auditAnnotations must contain at least one item"
        in causes
    )
    bad = {
        "metadata": {"name": "p"},
        "spec": {
            "failurePolicy": "Sometimes",
            "matchConstraints": {
                "matchPolicy": "Equivalent",
                "namespaceSelector": {},
                "objectSelector": {},
                "resourceRules": [{**RULE, "operations": []}],
            },
            "validations": [{"expression": "object.x <"}, {"expression": "true", "reason": "Other"}],
        },
    }
    causes = _causes(POLICY_INFO, bad)
    assert 'spec.failurePolicy: Unsupported value: "Sometimes": supported values: "Fail", "Ignore"' in causes
    assert "spec.matchConstraints.resourceRules[0].operations: Required value" in causes
    assert any(
        c.startswith(
            'spec.validations[0].expression: Invalid value: "object.x <": compilation failed: ERROR: '
        )
        for c in causes
    )
    assert any(c.startswith('spec.validations[1].reason: Unsupported value: "Other"') for c in causes)


def test_policy_defaults() -> None:
    policy = {"metadata": {"name": "p"}, "spec": {"matchConstraints": {"resourceRules": [dict(RULE)]}}}
    defaults.apply_defaults(POLICY_INFO, policy)
    assert policy["spec"]["failurePolicy"] == "Fail"
    match = policy["spec"]["matchConstraints"]
    assert (match["matchPolicy"], match["namespaceSelector"], match["objectSelector"]) == (
        "Equivalent",
        {},
        {},
    )
    assert match["resourceRules"][0]["scope"] == "*"


def test_binding_validation_and_defaults() -> None:
    binding = {"metadata": {"name": "b"}, "spec": {"validationActions": ["Deny", "Warn"], "paramRef": {}}}
    defaults.apply_defaults(BINDING_INFO, binding)
    assert binding["spec"]["paramRef"] == {"parameterNotFoundAction": "Deny"}
    causes = _causes(BINDING_INFO, binding)
    assert "spec.policyName: Required value" in causes
    assert "spec.paramRef: Required value: one of name or selector must be specified" in causes
    assert any("must not contain both Deny and Warn" in c for c in causes)


@pytest.mark.parametrize(
    ("ref", "shown"),
    [(None, "<unset>"), ({"name": "x", "namespace": "n"}, "n/x"), ({"name": "x"}, "*/x")],
)
def test_printers(ref: Any, shown: str) -> None:
    binding = {"metadata": {"name": "b"}, "spec": {"policyName": "p", "paramRef": ref}}
    assert VALIDATINGADMISSIONPOLICYBINDING.row(binding, lambda _: "1s") == ["b", "p", shown, "1s"]
    policy = {"metadata": {"name": "p"}, "spec": {"validations": [{}, {}]}}
    assert VALIDATINGADMISSIONPOLICY.row(policy, lambda _: "1s") == ["p", 2, "<unset>", "1s"]
