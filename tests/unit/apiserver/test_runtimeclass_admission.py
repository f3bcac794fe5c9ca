"""node.k8s.io/v1 RuntimeClass: its validation, and the RuntimeClass admission of pods
(overhead, scheduling merged, upstream's 403s), plus the pod sysctl names' validation."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate
from kprov.cluster.apiserver.admission import runtimeclass as runtimeclass_admission
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.status import StatusError
from kprov.cluster.storage import object_key

RUNTIME_CLASSES = REGISTRY.get("node.k8s.io", "v1", "runtimeclasses")
PODS = REGISTRY.get("", "v1", "pods")


def test_runtime_classes_are_served_cluster_wide() -> None:
    assert RUNTIME_CLASSES is not None
    assert (RUNTIME_CLASSES.kind, RUNTIME_CLASSES.namespaced) == ("RuntimeClass", False)
    assert "deletecollection" in RUNTIME_CLASSES.verbs


def _messages(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    assert RUNTIME_CLASSES is not None
    return [str(c) for c in validate(RUNTIME_CLASSES, obj, old)]


def test_runtime_class_validation_reads_like_upstreams() -> None:
    good = {
        "metadata": {"name": "kata"},
        "handler": "kata-fc",
        "overhead": {"podFixed": {"cpu": "10m", "memory": "1Mi"}},
        "scheduling": {"nodeSelector": {"sandbox": "yes"}, "tolerations": [{"operator": "Exists"}]},
    }
    assert _messages(good) == []
    bad = {
        "metadata": {"name": "x"},
        "handler": "Not_A_Label",
        "overhead": {"podFixed": {"cpu": "-1"}},
        "scheduling": {"tolerations": [{"value": "v"}]},
    }
    found = _messages(bad)
    assert found[0].startswith('handler: Invalid value: "Not_A_Label": a lowercase RFC 1123 label')
    assert 'overhead.limits[cpu]: Invalid value: "-1": must be greater than or equal to 0' in found
    assert any(m.startswith("scheduling.tolerations[0].operator: Invalid value") for m in found)
    changed = {**good, "handler": "runc"}
    assert _messages(changed, good) == ['handler: Invalid value: "runc": field is immutable']


def test_pod_sysctl_names_are_checked_and_safe_or_unsafe_is_left_to_the_node() -> None:
    assert PODS is not None
    sysctls = [
        {"name": "foo-", "value": "bar"},
        {"name": "kernel.shmmax", "value": "100000000"},
        {"name": "safe-and-unsafe", "value": "100000000"},
        {"name": "bar..", "value": "42"},
    ]
    pod = {
        "metadata": {"name": "p", "namespace": "ns"},
        "spec": {"containers": [{"name": "c", "image": "i"}], "securityContext": {"sysctls": sysctls}},
    }
    text = ", ".join(str(c) for c in validate(PODS, pod))
    assert 'sysctls[0].name: Invalid value: "foo-": must have at most 253 characters and match regex' in text
    assert 'Invalid value: "bar.."' in text
    assert "safe-and-unsafe" not in text and "kernel.shmmax" not in text
    pod["spec"]["hostNetwork"] = True
    pod["spec"]["securityContext"]["sysctls"] = [{"name": "net.ipv4.ip_local_port_range", "value": "1 2"}]
    assert [str(c) for c in validate(PODS, pod)] == [
        'spec.securityContext.sysctls[0].name: Invalid value: "net.ipv4.ip_local_port_range": '
        "may not be specified when 'hostNetwork' is true"
    ]


class _Store:
    def __init__(self, objects: dict[str, Any]) -> None:
        self.objects = objects

    async def get(self, key: str) -> Any:
        found = self.objects.get(key)
        return None if found is None else SimpleNamespace(obj=found)


def _admit(pod: dict[str, Any], *classes: dict[str, Any]) -> dict[str, Any]:
    stored = {object_key("node.k8s.io", "runtimeclasses", "", c["metadata"]["name"]): c for c in classes}
    ctx = ApiContext(config=None, registry=REGISTRY, store=_Store(stored),  # type: ignore[arg-type]
                     cache=SimpleNamespace(get=lambda key: None))  # type: ignore[arg-type]
    asyncio.run(runtimeclass_admission.admit_pod(ctx, pod))  # type: ignore[arg-type]
    return pod


def _pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": [{"name": "c"}], **spec}}


KATA = {
    "metadata": {"name": "kata"},
    "handler": "kata",
    "overhead": {"podFixed": {"cpu": "10m", "memory": "1Mi"}},
    "scheduling": {
        "nodeSelector": {"sandbox": "kata"},
        "tolerations": [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}],
    },
}


TOLERATE_X = {"key": "x", "operator": "Exists"}


def test_the_class_brings_its_overhead_and_scheduling() -> None:
    pod = _admit(
        _pod(runtimeClassName="kata", nodeSelector={"zone": "a"}, tolerations=[TOLERATE_X]),
        KATA,
    )
    assert pod["spec"]["overhead"] == {"cpu": "10m", "memory": "1Mi"}
    assert pod["spec"]["nodeSelector"] == {"zone": "a", "sandbox": "kata"}
    assert pod["spec"]["tolerations"] == [
        TOLERATE_X,
        {"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"},
    ]
    same = _admit(_pod(runtimeClassName="kata", overhead={"cpu": "0.01", "memory": "1Mi"}), KATA)
    assert same["spec"]["overhead"] == {"cpu": "10m", "memory": "1Mi"}
    plain = _admit(_pod())
    assert "overhead" not in plain["spec"] and "nodeSelector" not in plain["spec"]


@pytest.mark.parametrize(
    ("pod", "message"),
    [
        (_pod(runtimeClassName="gone"), 'pods "p" is forbidden: pod rejected: RuntimeClass "gone" not found'),
        (
            _pod(runtimeClassName="kata", overhead={"cpu": "1"}),
            "pods \"p\" is forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined "
            "Overhead",
        ),
        (
            _pod(overhead={"cpu": "1"}),
            'pods "p" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass '
            "defined Overhead",
        ),
        (
            _pod(runtimeClassName="kata", nodeSelector={"sandbox": "gvisor"}),
            'pods "p" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[sandbox] = kata; '
            "pod.spec.nodeSelector[sandbox] = gvisor",
        ),
    ],
)
def test_refusals_are_upstreams_403s(pod: dict[str, Any], message: str) -> None:
    with pytest.raises(StatusError) as err:
        _admit(pod, KATA)
    assert (err.value.code, err.value.reason, err.value.message) == (403, "Forbidden", message)


def test_generated_names_are_named_by_their_prefix() -> None:
    pod = _pod(runtimeClassName="gone")
    pod["metadata"] = {"generateName": "test-rc-", "name": "test-rc-x7k2p", "namespace": "ns"}
    with pytest.raises(StatusError, match='^pods "test-rc-" is forbidden'):
        _admit(pod)


def test_merged_tolerations_drop_what_another_already_tolerates() -> None:
    merge = runtimeclass_admission.merge_tolerations
    everything = {"operator": "Exists"}
    one = {"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}
    any_value = {"key": "k", "operator": "Exists"}
    assert merge([one], [everything]) == [everything]
    assert merge([any_value], [one]) == [any_value]
    assert merge([one], [one]) == [one]
    short = {"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}
    longer = {**short, "tolerationSeconds": 300}
    assert merge([short], [longer]) == [longer]
    assert merge([longer], [short]) == [longer]
