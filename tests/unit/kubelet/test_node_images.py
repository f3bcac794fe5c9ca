from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from kprov.cluster.kubelet.node.registration import (
    HostFacts,
    lease_object,
    node_object,
    node_status,
    parse_labels,
    parse_taints,
)
from kprov.cluster.kubelet.server import is_authorized
from kprov.images import FileEntry, ImageSpec, build_archive, normalize_reference

FACTS = HostFacts(
    cpus=4,
    memory_bytes=8 * 1024**3,
    kernel="6.1.0",
    os_image="Debian GNU/Linux 12 (bookworm)",
    architecture="amd64",
    machine_id="m1",
    boot_id="b1",
    disk_bytes=10 * 1024**3,
)


def test_flags_parsing() -> None:
    assert parse_labels("a=b, c=d=e") == {"a": "b", "c": "d=e"}
    assert parse_taints("dedicated=gpu:NoSchedule,spot:PreferNoSchedule") == [
        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
        {"key": "spot", "effect": "PreferNoSchedule"},
    ]
    with pytest.raises(ValueError, match="not key=value"):
        parse_labels("oops")
    with pytest.raises(ValueError, match="effect 'Sometimes'"):
        parse_taints("a:Sometimes")


def test_node_object_and_status() -> None:
    node = node_object("h1", FACTS, {"role": "worker"}, [{"key": "k", "effect": "NoSchedule"}])
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "h1" and labels["kubernetes.io/arch"] == "amd64"
    assert labels["kubernetes.io/os"] == "linux" and labels["role"] == "worker"
    assert node["spec"]["taints"] == [{"key": "k", "effect": "NoSchedule"}]
    status = node_status("h1", FACTS, "10.77.0.11", "containerd://1.6.20", True, "ok")
    assert status["capacity"] == {
        "cpu": "4",
        "memory": f"{8 * 1024**2}Ki",
        "pods": "110",
        "ephemeral-storage": f"{10 * 1024**2}Ki",
    }
    assert status["addresses"] == [
        {"type": "InternalIP", "address": "10.77.0.11"},
        {"type": "Hostname", "address": "h1"},
    ]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert status["nodeInfo"]["containerRuntimeVersion"] == "containerd://1.6.20"
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Ready"]["status"] == "True"
    assert all(conds[t]["status"] == "False" for t in ("MemoryPressure", "DiskPressure", "PIDPressure"))
    later = node_status("h1", FACTS, "10.77.0.11", "x", True, "ok", status["conditions"])
    assert {c["type"]: c for c in later["conditions"]}["Ready"]["lastTransitionTime"] == conds["Ready"][
        "lastTransitionTime"
    ]


def test_lease() -> None:
    import datetime as dt

    lease = lease_object("h1", "h1", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    assert lease["metadata"] == {"name": "h1", "namespace": "kube-node-lease"}
    assert lease["spec"]["renewTime"] == "2026-01-02T03:04:05.000000Z"


def test_client_cert_authorization() -> None:
    def cert(cn: str, org: str = "") -> dict[str, object]:
        subject = [(("commonName", cn),)] + ([(("organizationName", org),)] if org else [])
        return {"subject": tuple(subject)}

    assert is_authorized(cert("kube-apiserver-kubelet-client"))
    assert is_authorized(cert("kubernetes-admin", "system:masters"))
    assert not is_authorized(cert("system:node:h2", "system:nodes"))
    assert not is_authorized(None)


def test_normalize_reference() -> None:
    assert normalize_reference("busybox") == "docker.io/library/busybox:latest"
    assert normalize_reference("me/app:2") == "docker.io/me/app:2"
    assert normalize_reference("kprov.local/pause:1") == "kprov.local/pause:1"
    assert normalize_reference("localhost:5000/x") == "localhost:5000/x:latest"


def test_oci_archive_layout_is_complete_and_deterministic(tmp_path: Path) -> None:
    spec = ImageSpec(
        "kprov.local/t:1",
        [
            FileEntry("bin", is_dir=True, mode=0o755),
            FileEntry("bin/hello", data=b"#!/bin/sh\necho hi\n", mode=0o755),
            FileEntry("bin/sh", symlink_to="busybox"),
        ],
        entrypoint=["/bin/hello"],
    )
    digest = build_archive(spec, tmp_path / "a.tar")
    assert build_archive(spec, tmp_path / "b.tar") == digest
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()
    with tarfile.open(tmp_path / "a.tar") as tar:
        names = tar.getnames()
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        manifest_digest = index["manifests"][0]["digest"]
        assert manifest_digest == digest
        assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == "kprov.local/t:1"
        manifest = json.loads(tar.extractfile("blobs/sha256/" + digest[7:]).read())  # type: ignore[union-attr]
        config = json.loads(
            tar.extractfile(  # type: ignore[union-attr]
                "blobs/sha256/" + manifest["config"]["digest"][7:]
            ).read()
        )
        assert config["config"]["Entrypoint"] == ["/bin/hello"]
        layer = tar.extractfile("blobs/sha256/" + manifest["layers"][0]["digest"][7:])
        with tarfile.open(fileobj=layer) as inner:  # type: ignore[arg-type]
            assert inner.getmember("bin/sh").issym() and inner.getmember("bin/hello").mode == 0o755
    assert "oci-layout" in names and "manifest.json" in names
