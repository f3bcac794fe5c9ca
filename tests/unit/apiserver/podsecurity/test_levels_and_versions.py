"""Which checks each level:version runs (baseline, restricted, the overrides, the versions at
which checks appear or change), and a namespace's policy from its labels."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.apiserver.admission.podsecurity.levels import (
    LATEST,
    LevelVersion,
    Policy,
    Version,
    parse_version,
    policy_to_evaluate,
)
from kprov.cluster.apiserver.admission.podsecurity.registry import Evaluator

EVALUATOR = Evaluator()
RESTRICTED_OK: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {
            "name": "c",
            "image": "busybox",
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }
    ],
}


def lv(text: str) -> LevelVersion:
    level, _, version = text.partition(":")
    parsed = parse_version(version or "latest")
    assert parsed is not None
    return LevelVersion(level, parsed)


def with_pod(**fields: Any) -> dict[str, Any]:
    return {**RESTRICTED_OK, "securityContext": {**RESTRICTED_OK["securityContext"], **fields}}


def reasons(level_version: str, spec: dict[str, Any], meta: dict[str, Any] | None = None) -> str:
    return EVALUATOR.evaluate(lv(level_version), meta or {}, spec).reasons()


def test_restricted_message_lists_baseline_reasons_then_restricted_ones() -> None:
    spec = {"containers": [{"name": "c", "image": "i", "securityContext": {"privileged": True}}]}
    result = EVALUATOR.evaluate(lv("restricted:latest"), {}, spec)
    assert result.details() == (
        'privileged (container "c" must not set securityContext.privileged=true), '
        "allowPrivilegeEscalation != false "
        '(container "c" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")'
    )
    assert reasons("baseline:latest", spec) == "privileged"
    assert reasons("privileged:latest", spec) == ""


def test_compliant_pod_passes_every_level_and_version() -> None:
    for minor in range(0, 33):
        for level in ("baseline", "restricted"):
            assert EVALUATOR.evaluate(LevelVersion(level, Version(minor)), {}, RESTRICTED_OK).allowed


def test_restricted_overrides_baseline_checks_of_the_same_field() -> None:
    spec = {**RESTRICTED_OK, "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}
    assert reasons("baseline:latest", spec) == "hostPath volumes"
    assert reasons("restricted:latest", spec) == "restricted volume types"


@pytest.mark.parametrize(
    ("spec", "allowed_from", "level"),
    [
        (with_pod(sysctls=[{"name": "net.ipv4.ip_local_reserved_ports"}]), 27, "baseline"),
        (with_pod(sysctls=[{"name": "net.ipv4.tcp_keepalive_time"}]), 29, "baseline"),
        (with_pod(sysctls=[{"name": "net.ipv4.tcp_wmem"}]), 32, "baseline"),
        (with_pod(seLinuxOptions={"type": "container_engine_t"}), 31, "baseline"),
        (with_pod(runAsUser=0), None, "restricted"),  # forbidden from v1.23 on
        (
            {
                **RESTRICTED_OK,
                "os": {"name": "windows"},
                "containers": [{"name": "c"}],
                "securityContext": {"runAsNonRoot": True},
            },
            25,
            "restricted",
        ),
    ],
    ids=["reserved_ports", "tcp_keepalive", "tcp_wmem", "container_engine_t", "runAsUser", "windows"],
)
def test_version_differences(spec: dict[str, Any], allowed_from: int | None, level: str) -> None:
    if allowed_from is None:  # runAsUser=0: a check that appeared at v1.23
        assert reasons(f"{level}:v1.22", spec) == ""
        assert reasons(f"{level}:v1.23", spec) == "runAsUser=0"
        assert reasons(f"{level}:latest", spec) == "runAsUser=0"
        return
    assert reasons(f"{level}:v1.{allowed_from - 1}", spec) != ""
    assert reasons(f"{level}:v1.{allowed_from}", spec) == ""
    assert reasons(f"{level}:latest", spec) == ""


def test_capabilities_and_seccomp_histories() -> None:
    no_drop = {
        **RESTRICTED_OK,
        "containers": [{"name": "c", "securityContext": {"allowPrivilegeEscalation": False}}],
    }
    assert reasons("restricted:v1.21", no_drop) == ""  # drop ALL is required from v1.22
    assert reasons("restricted:v1.22", no_drop) == "unrestricted capabilities"
    annotated = {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}
    bare = {"containers": [{"name": "c"}]}
    assert reasons("baseline:v1.18", bare, annotated) == "seccompProfile"  # annotations before v1.19
    assert reasons("baseline:v1.19", bare, annotated) == ""
    escalating = {
        **RESTRICTED_OK,
        "containers": [{"name": "c", "securityContext": {"capabilities": {"drop": ["ALL"]}}}],
    }
    assert reasons("restricted:v1.7", escalating) == ""  # allowPrivilegeEscalation: from v1.8
    assert reasons("restricted:v1.8", escalating) == "allowPrivilegeEscalation != false"


def test_versions_newer_than_the_table_are_latest() -> None:
    spec = with_pod(sysctls=[{"name": "net.ipv4.tcp_rmem"}])
    assert reasons("baseline:v1.99", spec) == reasons("baseline:latest", spec) == ""
    assert Version(40).older(LATEST) and not LATEST.older(Version(40))
    assert parse_version("v1.0") == Version(0) and parse_version("v1.01") is None
    assert parse_version("v2.1") is None and parse_version("latest") == LATEST


def test_policy_from_labels() -> None:
    p = "pod-security.kubernetes.io/"
    policy, errors = policy_to_evaluate({p + "enforce": "baseline", p + "enforce-version": "v1.25"}, Policy())
    assert not errors
    assert str(policy.enforce) == "baseline:v1.25"
    assert str(policy.warn) == "baseline:v1.25"  # warn follows a tighter enforce without a warn label
    assert str(policy.audit) == "privileged:latest"
    policy, _ = policy_to_evaluate({p + "enforce": "restricted", p + "warn": "baseline"}, Policy())
    assert str(policy.warn) == "baseline:latest"
    policy, errors = policy_to_evaluate(
        {p + "enforce": "bogus", p + "audit": "bogus", p + "warn-version": "1.25"}, Policy()
    )
    assert [str(e) for e in errors] == [
        'metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": '
        "must be one of privileged, baseline, restricted",
        'metadata.labels[pod-security.kubernetes.io/audit]: Invalid value: "bogus": '
        "must be one of privileged, baseline, restricted",
        'metadata.labels[pod-security.kubernetes.io/warn-version]: Invalid value: "1.25": '
        'must be "latest" or "v1.x"',
    ]
    assert policy.enforce.level == "restricted" and policy.audit.level == "privileged"  # closed, open
    defaults = Policy(enforce=LevelVersion("baseline"))
    assert policy_to_evaluate({}, defaults) == (defaults, [])
