"""The optional beta versions: admissionregistration v1beta1 and flowcontrol v1beta3 as views
of v1 (conversion both ways, v1beta3's zero-shares rules), and --runtime-config's resolution."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kprov.cluster.api.defaults import apply_defaults
from kprov.cluster.api.kinds import beta_conversion as bc
from kprov.cluster.api.resources import OPTIONAL_GROUP_VERSIONS, REGISTRY, registry_with
from kprov.cluster.api.runtime_config import enabled_group_versions, parse
from kprov.cluster.apiserver.reconcilers.apiservice_controller import desired_local

FC, AR = "flowcontrol.apiserver.k8s.io", "admissionregistration.k8s.io"


def _level(api_version: str, shares: int | None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    limited: dict[str, Any] = {"lendablePercent": 0, "limitResponse": {"type": "Reject"}}
    if shares is not None:
        limited["nominalConcurrencyShares"] = shares
    meta: dict[str, Any] = {"name": "pl", "uid": "u1", "resourceVersion": "5"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"apiVersion": api_version, "kind": "PriorityLevelConfiguration", "metadata": meta,
            "spec": {"type": "Limited", "limited": limited}}


def test_zero_shares_travel_through_v1beta3_in_the_annotation() -> None:
    stored = _level(bc.FLOWCONTROL_V1, 0)
    before = copy.deepcopy(stored)
    beta = bc.convert_priority_level(stored, bc.FLOWCONTROL_V1BETA3)
    assert stored == before  # the stored object is not touched
    assert beta["apiVersion"] == bc.FLOWCONTROL_V1BETA3
    assert beta["metadata"]["annotations"] == {bc.ZERO_SHARES_ANNOTATION: ""}
    assert beta["spec"]["limited"]["nominalConcurrencyShares"] == 0
    back = bc.convert_priority_level(beta, bc.FLOWCONTROL_V1)
    assert back == stored  # round trip: the annotation is dropped, 0 kept


def test_nonzero_shares_convert_without_annotation_both_ways() -> None:
    stored = _level(bc.FLOWCONTROL_V1, 30, {"team": "a"})
    beta = bc.convert_priority_level(stored, bc.FLOWCONTROL_V1BETA3)
    assert beta["metadata"]["annotations"] == {"team": "a"}
    assert bc.convert_priority_level(beta, bc.FLOWCONTROL_V1) == stored
    # a v1beta3 object carrying the annotation with non-zero shares: dropped on the way in
    written = _level(bc.FLOWCONTROL_V1BETA3, 7, {bc.ZERO_SHARES_ANNOTATION: "", "team": "a"})
    stored_form = bc.convert_priority_level(written, bc.FLOWCONTROL_V1)
    assert stored_form["metadata"]["annotations"] == {"team": "a"}
    assert stored_form["spec"]["limited"]["nominalConcurrencyShares"] == 7


def test_same_version_is_the_same_object() -> None:
    obj = _level(bc.FLOWCONTROL_V1, 0)
    assert bc.convert_priority_level(obj, bc.FLOWCONTROL_V1) is obj
    policy = {"apiVersion": bc.ADMISSION_V1, "kind": "ValidatingAdmissionPolicy", "metadata": {"name": "p"}}
    assert bc.convert_admission_policy(policy, bc.ADMISSION_V1) is policy


def test_exempt_levels_and_flow_schemas_only_change_api_version() -> None:
    exempt = {"apiVersion": bc.FLOWCONTROL_V1, "kind": "PriorityLevelConfiguration",
              "metadata": {"name": "exempt"},
              "spec": {"type": "Exempt", "exempt": {"nominalConcurrencyShares": 0, "lendablePercent": 0}}}
    beta = bc.convert_priority_level(exempt, bc.FLOWCONTROL_V1BETA3)
    assert beta == {**exempt, "apiVersion": bc.FLOWCONTROL_V1BETA3}
    schema = {"apiVersion": bc.FLOWCONTROL_V1BETA3, "kind": "FlowSchema", "metadata": {"name": "f"},
              "spec": {"priorityLevelConfiguration": {"name": "pl"}, "matchingPrecedence": 500}}
    assert bc.convert_flow_schema(schema, bc.FLOWCONTROL_V1) == {**schema, "apiVersion": bc.FLOWCONTROL_V1}
    policy = {"apiVersion": bc.ADMISSION_V1BETA1, "kind": "ValidatingAdmissionPolicy",
              "metadata": {"name": "p"}, "spec": {"validations": [{"expression": "true"}]}}
    v1 = bc.convert_admission_policy(policy, bc.ADMISSION_V1)
    assert v1 == {**policy, "apiVersion": bc.ADMISSION_V1}
    assert bc.convert_admission_policy(v1, bc.ADMISSION_V1BETA1) == policy


@pytest.mark.parametrize(
    ("shares", "annotations", "expected"),
    [
        (None, None, 30),  # unset: the default
        (0, None, 30),  # v1beta3's 0 means unset
        (0, {bc.ZERO_SHARES_ANNOTATION: ""}, 0),  # ... unless the annotation says it is meant
        (5, None, 5),
    ],
)
def test_v1beta3_defaulting_of_shares(shares: int | None, annotations: dict[str, str] | None,
                                      expected: int) -> None:
    beta_info = registry_with(OPTIONAL_GROUP_VERSIONS | set(REGISTRY.group_versions())).get(
        FC, "v1beta3", "prioritylevelconfigurations")
    assert beta_info is not None
    obj = _level(bc.FLOWCONTROL_V1BETA3, shares, annotations)
    apply_defaults(beta_info, obj)
    assert obj["spec"]["limited"]["nominalConcurrencyShares"] == expected
    # v1 keeps its own rule: only an absent field is defaulted, 0 is a value
    v1_info = REGISTRY.get(FC, "v1", "prioritylevelconfigurations")
    assert v1_info is not None
    v1 = _level(bc.FLOWCONTROL_V1, 0)
    apply_defaults(v1_info, v1)
    assert v1["spec"]["limited"]["nominalConcurrencyShares"] == 0


def test_the_beta_versions_are_off_by_default() -> None:
    assert {(AR, "v1beta1"), (FC, "v1beta3")} <= OPTIONAL_GROUP_VERSIONS
    assert not OPTIONAL_GROUP_VERSIONS & set(REGISTRY.group_versions())
    assert enabled_group_versions(()) == frozenset(REGISTRY.group_versions())
    assert registry_with(enabled_group_versions(())) is REGISTRY


def test_runtime_config_turns_them_on_after_v1_in_discovery_order() -> None:
    settings = parse("admissionregistration.k8s.io/v1beta1=true,flowcontrol.apiserver.k8s.io/v1beta3")
    registry = registry_with(enabled_group_versions(settings))
    versions = [v for g, v in registry.group_versions() if g == AR]
    assert versions == ["v1", "v1beta1"]  # v1 stays the preferred version
    assert [v for g, v in registry.group_versions() if g == FC] == ["v1", "v1beta3"]
    info = registry.get(AR, "v1beta1", "validatingadmissionpolicies")
    assert info is not None and info.subresource("status") is not None
    status = info.subresource("status")
    assert status is not None and status.api_version == bc.ADMISSION_V1BETA1
    assert registry.by_kind("FlowSchema", FC) is registry.get(FC, "v1", "flowschemas")
    names = set(desired_local(registry.all()))
    assert {"v1beta1.admissionregistration.k8s.io", "v1beta3.flowcontrol.apiserver.k8s.io"} <= names


def test_runtime_config_precedence_and_shorthands() -> None:
    assert (AR, "v1beta1") in enabled_group_versions(parse("api/beta=true"))
    off_again = enabled_group_versions(parse("api/beta=true,admissionregistration.k8s.io/v1beta1=false"))
    assert (AR, "v1beta1") not in off_again and (FC, "v1beta3") in off_again
    assert (FC, "v1beta3") in enabled_group_versions(parse("api/all=true"))


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("foo.example.com/v1=true", "unknown api groups foo.example.com/v1"),
        ("apps/v1/deployments=false", "runtime-config invalid key apps/v1/deployments"),
        ("api/all=false", "invalid key with only api/all=false"),
        ("admissionregistration.k8s.io/v1beta1=yes", "invalid value of admissionregistration.k8s.io/v1beta1"),
        ("batch/v1=false", "kprov cannot serve without batch/v1"),
    ],
)
def test_runtime_config_refusals(flag: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        parse(flag)
