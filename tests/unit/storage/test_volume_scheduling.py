"""The scheduler's VolumeBinding filter, the local-path provisioner's volume, the kubelet's
claim mounts and its sweep of deleted volumes' directories."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from kprov.cluster.client.store import Store
from kprov.cluster.controllers.storage.localpath import default_storage_class, volume_for
from kprov.cluster.kubelet.pods.env import ConfigError, PodSources
from kprov.cluster.kubelet.volumes.localvolumes import sweep
from kprov.cluster.kubelet.volumes.pod_volumes import setup_volumes, volume_source
from kprov.cluster.scheduler.algorithm import failure_message
from kprov.cluster.scheduler.plugins.volume_binding import StorageView
from tests.unit.scheduler.helpers import cache_with, node, pod, run


def _store(*objs: dict) -> Store:
    store = Store()
    for obj in objs:
        store.put(obj)
    return store


def claim(name: str, cls: str = "local-path", volume: str = "") -> dict:
    return {
        "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "storageClassName": cls,
            **({"volumeName": volume} if volume else {}),
        },
    }


def pinned(name: str, where: str, cls: str = "local-path", ref: dict | None = None) -> dict:
    term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [where]}]}
    spec = {
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": cls,
        "hostPath": {"path": f"/v/{name}"},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [term]}},
    }
    if ref:
        spec["claimRef"] = ref
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": "Bound" if ref else "Available"}}


def with_claim(name: str) -> dict:
    return pod("p", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": name}}])


def cache_for(claims: list[dict], volumes: list[dict], classes: list[dict]):  # type: ignore[no-untyped-def]
    cache = cache_with([node("a"), node("b")])
    cache.storage = StorageView(_store(*claims), _store(*volumes), _store(*classes))
    return cache


WFFC = default_storage_class("local-path")
STATIC = {
    "metadata": {"name": "manual"},
    "provisioner": "kubernetes.io/no-provisioner",
    "volumeBindingMode": "WaitForFirstConsumer",
}
IMMEDIATE = {"metadata": {"name": "now"}, "provisioner": "x.io/y", "volumeBindingMode": "Immediate"}


def test_a_bound_volume_decides_the_node() -> None:
    cache = cache_for(
        [claim("c", volume="v")], [pinned("v", "b", ref={"name": "c", "namespace": "default"})], [WFFC]
    )
    assert {run(cache, with_claim("c")).node for _ in range(20)} == {"b"}
    cache = cache_for([claim("c", volume="v")], [pinned("v", "nowhere", ref={"name": "c"})], [WFFC])
    result = run(cache, with_claim("c"))
    assert result.node is None
    assert "2 node(s) had volume node affinity conflict" in failure_message(result)


def test_unbound_claims() -> None:
    cache = cache_for([claim("c")], [], [WFFC])  # a provisioner can make it anywhere
    assert {run(cache, with_claim("c")).node for _ in range(20)} == {"a", "b"}
    cache = cache_for([claim("c", cls="manual")], [pinned("v", "a", cls="manual")], [STATIC])
    assert {run(cache, with_claim("c")).node for _ in range(20)} == {"a"}
    cache = cache_for([claim("c", cls="manual")], [], [STATIC])
    assert "didn't find available persistent volumes to bind" in failure_message(run(cache, with_claim("c")))
    cache = cache_for([claim("c", cls="now")], [], [IMMEDIATE])
    assert "pod has unbound immediate PersistentVolumeClaims" in failure_message(run(cache, with_claim("c")))
    cache = cache_for([], [], [WFFC])
    assert 'persistentvolumeclaim "c" not found' in failure_message(run(cache, with_claim("c")))


def test_local_path_volume() -> None:
    c = claim("data")
    v = volume_for(c, WFFC, {"metadata": {"labels": {"kubernetes.io/hostname": "host-b"}}}, "b")
    assert v["metadata"]["name"] == "pvc-uid-data"
    assert v["metadata"]["annotations"] == {"pv.kubernetes.io/provisioned-by": "kprov.io/local-path"}
    assert v["spec"]["hostPath"] == {
        "path": "/var/lib/kprov/volumes/pvc-uid-data",
        "type": "DirectoryOrCreate",
    }
    term = v["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]
    assert term["matchExpressions"][0]["values"] == ["host-b"]
    assert v["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert v["spec"]["claimRef"]["uid"] == "uid-data" and v["spec"]["capacity"] == {"storage": "1Gi"}


def test_kubelet_mounts_the_bound_volume(tmp_path: Path) -> None:
    target = tmp_path / "volumes" / "pvc-1"
    p = {"metadata": {"uid": "u"}, **with_claim("c")}
    with pytest.raises(ConfigError, match='persistentvolumeclaim "c" is not bound'):
        setup_volumes(tmp_path, p, PodSources())
    source = volume_source({"spec": {"hostPath": {"path": str(target), "type": "DirectoryOrCreate"}}})
    paths = setup_volumes(tmp_path, p, PodSources(claims={"c": source}))
    assert paths == {"d": str(target)} and target.is_dir()


def test_sweep_removes_only_deleted_volumes(tmp_path: Path) -> None:
    for name in ("pvc-live", "pvc-gone", "other"):
        (tmp_path / name).mkdir()

    async def get_volume(name: str) -> dict | None:
        return {"metadata": {"name": name}} if name == "pvc-live" else None

    assert asyncio.run(sweep(tmp_path, get_volume)) == ["pvc-gone"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "pvc-live"]
