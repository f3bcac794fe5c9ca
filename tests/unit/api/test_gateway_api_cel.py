"""Gateway API v1.6.1's standard bundle (vendored, tests/data/gateway-api-v1.6.1) through
kprov's CEL: every CRD's rules compile at creation, an HTTPRoute is judged by its rules with
their own messages, and the bundle's safe-upgrades ValidatingAdmissionPolicy (which calls
the global ``matches``) admits a re-apply of v1.6.1 and refuses a downgrade with its message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.cluster.api.crd.definition import validate_crd
from kprov.cluster.api.crd.pruning import default
from kprov.cluster.api.crd.structural import compile_schema, validate
from kprov.cluster.api.validation.admission_policy import BASE_VARIABLES, check_expression
from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.apiserver.admission.vap.evaluator import activation_of, compile_policy

BUNDLE = Path(__file__).parents[2] / "data" / "gateway-api-v1.6.1"


def _documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((BUNDLE / name).read_text(encoding="utf-8")) if d]


def _crds() -> list[dict[str, Any]]:
    return [
        d
        for p in sorted(BUNDLE.glob("*.yaml"))
        for d in _documents(p.name)
        if d["kind"] == "CustomResourceDefinition"
    ]


def _rule_count(schema: Any) -> int:
    if isinstance(schema, dict):
        return len(schema.get("x-kubernetes-validations") or []) + sum(
            _rule_count(v) for v in schema.values()
        )
    if isinstance(schema, list):
        return sum(_rule_count(v) for v in schema)
    return 0


def test_every_standard_crd_of_the_bundle_is_accepted_with_its_rules() -> None:
    crds = _crds()
    assert len(crds) == 10
    assert sum(_rule_count(c["spec"]) for c in crds) > 250
    for crd in crds:
        assert validate_crd(crd) == [], crd["metadata"]["name"]


def _httproute_schema() -> Any:
    (crd,) = _documents("gateway.networking.k8s.io_httproutes.yaml")
    (v1,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return compile_schema(v1["schema"]["openAPIV3Schema"])


def httproute(path: str = "/api", section: str | None = None) -> dict[str, Any]:
    parent: dict[str, Any] = {"name": "gw"}
    if section:
        parent["sectionName"] = section
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "parentRefs": [parent],
            "hostnames": ["www.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": path}}],
                    "backendRefs": [{"name": "web", "port": 80}],
                }
            ],
        },
    }


def test_an_httproute_is_judged_by_its_v1_6_1_rules() -> None:
    schema = _httproute_schema()
    errors = Errors()
    route, bad = httproute(), httproute("api//x")
    default(schema, route)  # (the API server defaults before it validates: parentRefs' group, kind)
    default(schema, bad)
    validate(schema, route, errors)
    assert errors.causes == []
    validate(schema, bad, errors)
    messages = sorted(c.message for c in errors.causes)
    assert any("value must be an absolute path and start with '/'" in m for m in messages), messages
    assert any("must not contain '//'" in m for m in messages), messages


def _crd_update(version: str, channel: str = "standard") -> dict[str, Any]:
    return {
        "metadata": {
            "name": "httproutes.gateway.networking.k8s.io",
            "annotations": {
                "gateway.networking.k8s.io/bundle-version": version,
                "gateway.networking.k8s.io/channel": channel,
            },
        },
        "spec": {"group": "gateway.networking.k8s.io"},
    }


@pytest.mark.parametrize(
    ("version", "denied"), [("v1.6.1", False), ("v1.5.0", True), ("v1.2.1", True), ("v1.6.0-rc.1", False)]
)
def test_the_safe_upgrades_policy_admits_a_reapply_and_refuses_a_downgrade(
    version: str, denied: bool
) -> None:
    policy = next(
        d
        for d in _documents("gateway.networking.k8s.io_vap_safeupgrades.yaml")
        if d["kind"] == "ValidatingAdmissionPolicy"
    )
    for validation in policy["spec"]["validations"]:  # they compile (the global matches() included)
        assert check_expression(validation["expression"], BASE_VARIABLES) is None
    compiled = compile_policy(policy)
    assert compiled.error == ""
    result = compiled.evaluate(
        activation_of({"object": _crd_update(version), "oldObject": _crd_update("v1.6.1")})
    )
    assert [d.error for d in result.decisions] == ([False] if denied else [])
    if denied:
        assert result.decisions[0].message.startswith(
            "Installing CRDs with version before v1.5.0 is prohibited"
        )
