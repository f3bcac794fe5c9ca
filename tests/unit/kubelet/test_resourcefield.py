"""resourceFieldRef values, env and downward API files: data in, strings out."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.cluster.kubelet.pods.env import ConfigError, PodSources, resolve_env
from kprov.cluster.kubelet.pods.resourcefield import ResourceFieldError, resource_field_value
from kprov.cluster.kubelet.volumes.pod_volumes import setup_volumes

ALLOCATABLE = {"cpu": "2", "memory": "2048Mi", "ephemeral-storage": "10Gi"}
CONTAINER = {
    "name": "app",
    "resources": {
        "limits": {"cpu": "1250m", "memory": "64Mi"},
        "requests": {"cpu": "250m", "memory": "32Mi"},
    },
}


@pytest.mark.parametrize(
    ("resource", "divisor", "expected"),
    [
        ("limits.cpu", "1m", "1250"),
        ("limits.cpu", None, "2"),  # whole cores, rounded up
        ("limits.cpu", "0", "2"),  # a Go client's unset Quantity: divisor 1, as upstream's kubelet
        ("limits.memory", "1Mi", "64"),
        ("limits.memory", None, str(64 * 2**20)),
        ("requests.cpu", "1m", "250"),
        ("requests.memory", "1Mi", "32"),
        ("limits.ephemeral-storage", "1Gi", "10"),  # not set: the node's allocatable
        ("requests.ephemeral-storage", None, "0"),  # not set: 0
    ],
)
def test_values_as_upstreams_kubelet_computes_them(resource: str, divisor: str | None, expected: str) -> None:
    ref = {"resource": resource, **({"divisor": divisor} if divisor else {})}
    assert resource_field_value(CONTAINER, ref, ALLOCATABLE) == expected


def test_an_unset_limit_is_the_nodes_allocatable() -> None:
    bare = {"name": "bare"}
    assert resource_field_value(bare, {"resource": "limits.cpu"}, ALLOCATABLE) == "2"
    assert resource_field_value(bare, {"resource": "limits.memory", "divisor": "1Mi"}, ALLOCATABLE) == "2048"


@pytest.mark.parametrize("ref", [{"resource": "limits.gpu"}, {"resource": "limits.cpu", "divisor": "-1"}])
def test_bad_references_are_refused(ref: dict) -> None:
    with pytest.raises(ResourceFieldError):
        resource_field_value(CONTAINER, ref, ALLOCATABLE)


def _pod(**extra: object) -> dict:
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"containers": [{**CONTAINER, **extra}]}}


def test_env_reads_its_own_containers_resources_and_refuses_bad_ones() -> None:
    env = [
        {"name": "CPU_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}}},
        {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory"}}},
    ]
    pod = _pod(env=env)
    sources = PodSources(allocatable=ALLOCATABLE)
    assert dict(resolve_env(pod, pod["spec"]["containers"][0], sources)) == {
        "CPU_LIMIT": "1250", "MEM": str(32 * 2**20)}
    bad = _pod(env=[{"name": "X", "valueFrom": {"resourceFieldRef": {"resource": "limits.gpu"}}}])
    with pytest.raises(ConfigError, match="unsupported container resource : limits.gpu"):
        resolve_env(bad, bad["spec"]["containers"][0], sources)


def test_downward_api_files_name_their_container(tmp_path: Path) -> None:
    pod = _pod()
    pod["spec"]["volumes"] = [{"name": "info", "downwardAPI": {"items": [
        {"path": "cpu_limit",
         "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu", "divisor": "1m"}},
        {"path": "mem_request", "resourceFieldRef": {"containerName": "app", "resource": "requests.memory",
                                                     "divisor": "1Mi"}},
    ]}}]
    paths = setup_volumes(tmp_path, pod, PodSources(allocatable=ALLOCATABLE))
    directory = Path(paths["info"])
    assert (directory / "cpu_limit").read_text() == "1250"
    assert (directory / "mem_request").read_text() == "32"
