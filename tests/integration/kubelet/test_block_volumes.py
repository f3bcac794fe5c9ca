"""Local PersistentVolumes on a real block device (a loop device of this machine): formatted
once and mounted per pod in Filesystem mode, handed over as a device in Block mode, and
refused when a container uses a volume the other way."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kprov.cluster.kubelet.pods.env import ConfigError, PodSources
from kprov.cluster.kubelet.volumes.pod_volumes import (
    container_devices,
    container_mounts,
    remove_pod_volumes,
    setup_volumes,
    volume_source,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="loop devices and mounts need root")


@pytest.fixture
def device(tmp_path: Path) -> Iterator[str]:
    image = tmp_path / "disk.img"
    with image.open("wb") as handle:
        handle.truncate(16 * 2**20)
    name = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True,
                          check=True).stdout.strip()
    try:
        yield name
    finally:
        subprocess.run(["losetup", "-d", name], check=False)


def _volume(path: str, mode: str = "Filesystem", fs_type: str = "") -> dict[str, Any]:
    local: dict[str, Any] = {"path": path, **({"fsType": fs_type} if fs_type else {})}
    return {"metadata": {"name": "pv"}, "spec": {"local": local, "volumeMode": mode}}


def _pod(uid: str) -> dict[str, Any]:
    return {"metadata": {"name": uid, "namespace": "ns", "uid": uid},
            "spec": {"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}]}}


def _sources(volume: dict[str, Any]) -> PodSources:
    source = volume_source(volume)
    assert source is not None
    return PodSources(claims={"c": source})


def test_a_blank_device_is_formatted_once_and_each_pod_mounts_it(tmp_path: Path, device: str) -> None:
    root = tmp_path / "kubelet"
    sources = _sources(_volume(device))
    first = setup_volumes(root, _pod("one"), sources)["data"]
    assert first == str(root / "pods/one/volumes/kubernetes.io~local-volume/data") and os.path.ismount(first)
    Path(first, "written-by-one").write_text("hello\n")
    assert setup_volumes(root, _pod("one"), sources)["data"] == first  # a resync changes nothing
    second = setup_volumes(root, _pod("two"), sources)["data"]  # the same volume, a second pod
    assert Path(second, "written-by-one").read_text() == "hello\n"  # not formatted again
    fs_type = subprocess.run(["blkid", "-p", "-s", "TYPE", "-o", "value", device], capture_output=True,
                             text=True, check=False).stdout.strip()
    assert fs_type == "ext4"
    container = {"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}
    assert container_mounts(container, {"data": second})[0].host_path == second
    with pytest.raises(ConfigError, match="not a block volume"):
        container_devices({"name": "app", "volumeDevices": [{"name": "data", "devicePath": "/dev/xvda"}]},
                          {"data": second})
    for uid in ("one", "two"):
        remove_pod_volumes(root, uid)
    assert not os.path.ismount(first) and not os.path.ismount(second)


def test_a_block_volume_is_a_device_of_the_container(tmp_path: Path, device: str) -> None:
    paths = setup_volumes(tmp_path, _pod("b"), _sources(_volume(device, "Block")))
    assert paths == {"data": device}
    block_user = {"name": "app", "volumeDevices": [{"name": "data", "devicePath": "/dev/xvda"}]}
    assert container_devices(block_user, paths) == [("/dev/xvda", device)]
    with pytest.raises(ConfigError, match="volumeMode Block"):
        container_mounts({"name": "app", "volumeMounts": [{"name": "data", "mountPath": "/data"}]}, paths)


def test_a_filesystem_of_another_type_is_never_reformatted(tmp_path: Path, device: str) -> None:
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "keep", device], check=True)
    with pytest.raises(ConfigError, match="holds a filesystem of type ext4, not the volume's fsType xfs"):
        setup_volumes(tmp_path, _pod("x"), _sources(_volume(device, fs_type="xfs")))
    label = subprocess.run(["blkid", "-p", "-s", "LABEL", "-o", "value", device], capture_output=True,
                           text=True, check=False).stdout.strip()
    assert label == "keep"
