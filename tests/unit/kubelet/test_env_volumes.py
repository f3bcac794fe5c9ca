from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from kprov.cluster.kubelet.pods.env import ConfigError, PodSources, expand, resolve_env
from kprov.cluster.kubelet.volumes.pod_volumes import (
    container_mounts,
    referenced_sources,
    remove_pod_volumes,
    setup_volumes,
)

CM = {"metadata": {"name": "cfg", "namespace": "ns"}, "data": {"a": "1", "b": "2"}}
SECRET = {
    "metadata": {"name": "sec", "namespace": "ns"},
    "data": {"pw": base64.b64encode(b"hunter2").decode()},
}
POD = {
    "metadata": {"name": "p", "namespace": "ns", "uid": "uid-7", "labels": {"tier": "db"}},
    "spec": {
        "nodeName": "n1",
        "containers": [{"name": "c"}],
        "volumes": [
            {"name": "cm", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "sub/a.txt"}]}},
            {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o400}},
            {"name": "scratch", "emptyDir": {}},
            {
                "name": "proj",
                "projected": {
                    "sources": [
                        {"configMap": {"name": "cfg"}},
                        {
                            "downwardAPI": {
                                "items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]
                            }
                        },
                    ]
                },
            },
        ],
    },
}


def sources() -> PodSources:
    return PodSources({"cfg": CM}, {"sec": SECRET}, pod_ip="10.244.0.5", host_ip="10.77.0.11")


def test_expand() -> None:
    assert expand("$(A)-$(B)-$$(A)", {"A": "x"}) == "x-$(B)-$(A)"


def test_the_ip_list_field_refs() -> None:
    env = dict(resolve_env(POD, {"env": [
        {"name": "IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
        {"name": "HOSTS", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIPs"}}},
    ]}, sources()))
    assert (env["IPS"], env["HOSTS"]) == ("10.244.0.5", "10.77.0.11")


def test_env_order_sources_and_field_refs() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}, {"secretRef": {"name": "sec"}}],
        "env": [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "TIER", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['tier']"}}},
            {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "BOTH", "value": "$(A)/$(IP)"},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": True}}},
        ],
    }
    env = dict(resolve_env(POD, container, sources()))
    assert env["CFG_a"] == "1" and env["pw"] == "hunter2"
    assert (env["A"], env["PW"], env["IP"], env["NODE"], env["TIER"], env["UID"]) == (
        "1",
        "hunter2",
        "10.244.0.5",
        "n1",
        "db",
        "uid-7",
    )
    assert env["BOTH"] == "1/10.244.0.5"
    assert "OPT" not in env


def test_missing_required_sources_are_config_errors() -> None:
    with pytest.raises(ConfigError, match='configmap "gone" not found'):
        resolve_env(
            POD,
            {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k"}}}]},
            sources(),
        )
    with pytest.raises(ConfigError, match="couldn't find key zz"):
        resolve_env(
            POD,
            {"env": [{"name": "X", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "zz"}}}]},
            sources(),
        )


def test_referenced_sources() -> None:
    assert referenced_sources(POD) == ({"cfg"}, {"sec"})


def test_volumes_are_written_refreshed_and_mounted(tmp_path: Path) -> None:
    paths = setup_volumes(tmp_path, POD, sources())
    assert Path(paths["cm"], "sub/a.txt").read_text() == "1"
    assert not Path(paths["cm"], "b").exists()
    secret_file = Path(paths["sec"], "pw")
    assert secret_file.read_bytes() == b"hunter2"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o400
    assert Path(paths["scratch"]).is_dir()
    assert Path(paths["proj"], "b").read_text() == "2" and Path(paths["proj"], "name").read_text() == "p"
    updated = PodSources({"cfg": {**CM, "data": {"a": "changed"}}}, {"sec": SECRET})
    setup_volumes(tmp_path, POD, updated)
    assert Path(paths["cm"], "sub/a.txt").read_text() == "changed"
    assert not Path(paths["proj"], "b").exists()  # removed keys disappear
    mounts = container_mounts(
        {
            "name": "c",
            "volumeMounts": [
                {"name": "cm", "mountPath": "/etc/cfg", "readOnly": True},
                {"name": "scratch", "mountPath": "/data", "subPath": "part"},
            ],
        },
        paths,
    )
    assert (mounts[0].host_path, mounts[0].container_path, mounts[0].readonly) == (
        paths["cm"],
        "/etc/cfg",
        True,
    )
    assert mounts[1].host_path == str(Path(paths["scratch"]) / "part") and Path(mounts[1].host_path).is_dir()
    with pytest.raises(ConfigError, match="names no volume"):
        container_mounts({"name": "c", "volumeMounts": [{"name": "ghost", "mountPath": "/x"}]}, paths)
    remove_pod_volumes(tmp_path, "uid-7")
    assert not (tmp_path / "pods" / "uid-7").exists()


def test_bad_volume_paths_are_rejected(tmp_path: Path) -> None:
    pod = {
        "metadata": {"uid": "u"},
        "spec": {
            "volumes": [
                {"name": "cm", "configMap": {"name": "cfg", "items": [{"key": "a", "path": "../escape"}]}}
            ]
        },
    }
    with pytest.raises(ConfigError, match="without '..'"):
        setup_volumes(tmp_path, pod, sources())
    with pytest.raises(ConfigError, match="unsupported volume source"):
        setup_volumes(
            tmp_path, {"metadata": {"uid": "u"}, "spec": {"volumes": [{"name": "x", "nfs": {}}]}}, sources()
        )


def test_fs_group_owns_the_volumes_and_joins_the_process_groups(tmp_path: Path) -> None:
    import copy
    import os

    from kprov.cluster.kubelet.pods.podconfig import container_config

    if os.geteuid() != 0:
        pytest.skip("changing a file's group to another needs root")
    pod = copy.deepcopy(POD)
    pod["spec"]["securityContext"] = {"fsGroup": 2345, "supplementalGroups": [77]}
    paths = setup_volumes(tmp_path, pod, sources())
    secret_file = Path(paths["sec"], "pw")
    assert secret_file.stat().st_gid == 2345
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o440  # read-only volume: group read
    scratch = Path(paths["scratch"]).stat()
    assert scratch.st_gid == 2345 and scratch.st_mode & stat.S_ISGID
    assert stat.S_IMODE(scratch.st_mode) & 0o070 == 0o070  # emptyDir: group may write
    cm_dir = Path(paths["cm"]).resolve() / "sub"
    assert cm_dir.stat().st_gid == 2345 and cm_dir.stat().st_mode & stat.S_ISGID
    config = container_config(pod, {"name": "c", "image": "i"}, 0, [], [])
    assert list(config.linux.security_context.supplemental_groups) == [2345, 77]  # fsGroup first, as upstream


def test_mount_propagation_reaches_the_runtime() -> None:
    from kprov.cluster.kubelet.cri.generated import api_pb2 as pb
    from kprov.cluster.kubelet.pods.podconfig import container_config

    container = {"name": "c", "image": "i", "volumeMounts": [
        {"name": "h", "mountPath": "/h", "mountPropagation": "HostToContainer"},
        {"name": "b", "mountPath": "/b", "mountPropagation": "Bidirectional"},
        {"name": "p", "mountPath": "/p"},
    ]}
    mounts = container_mounts(container, {"h": "/var/h", "b": "/var/b", "p": "/var/p"})
    config = container_config({"metadata": {}, "spec": {}}, container, 0, [], mounts)
    assert [m.propagation for m in config.mounts] == [
        pb.PROPAGATION_HOST_TO_CONTAINER, pb.PROPAGATION_BIDIRECTIONAL, pb.PROPAGATION_PRIVATE]


@pytest.mark.parametrize(("pod_context", "container_context", "mode", "uid", "gid"), [
    ({"runAsUser": 1000}, {}, 0o600, 1000, 0),  # upstream's e2e: -rw------- owned by the pod's user
    ({"fsGroup": 1234}, {}, 0o640, 0, 1234),  # -rw-r----- for the group
    ({"runAsUser": 1000, "fsGroup": 1234}, {}, 0o640, 1000, 1234),
    ({}, {"runAsUser": 1000}, 0o600, 1000, 0),  # the container's own user, its only container
    ({}, {}, 0o644, 0, 0),  # the volume's default mode, root's
])
def test_a_projected_token_belongs_to_the_pods_user_and_group(
    tmp_path: Path, pod_context: dict[str, int], container_context: dict[str, int], mode: int, uid: int,
    gid: int,
) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("giving a file to another user needs root")
    pod = {"metadata": {"uid": "u1"}, "spec": {
        "securityContext": pod_context,
        "containers": [{"name": "c", "image": "i", "securityContext": container_context}],
        "volumes": [{"name": "token", "projected": {"defaultMode": 0o644, "sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
            {"configMap": {"name": "cfg", "items": [{"key": "a", "path": "a"}]}}]}}]}}
    token_sources = PodSources({"cfg": CM}, {}, tokens={("token", "token"): b"jwt"})
    paths = setup_volumes(tmp_path, pod, token_sources)
    info = Path(paths["token"], "token").stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (mode, uid, gid)
    assert Path(paths["token"], "a").stat().st_uid == 0  # only the token is the user's
    setup_volumes(tmp_path, pod, token_sources)  # a second sync rewrites nothing
    assert Path(paths["token"], "token").stat().st_ino == info.st_ino
