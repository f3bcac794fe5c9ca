"""The OCI image builder writes a self-consistent image layout."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from kprov.lab.errors import LabError
from kprov.lab.oci import OciImage, build_busybox_image


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_blobs_are_named_by_their_digest_and_linked(tmp_path: Path) -> None:
    image = OciImage(name="docker.io/lab/test:v1", cmd=("/bin/app",))
    image.add_file("bin/app", b"#!/bin/sh\necho hi\n", 0o755)
    image.add_symlink("bin/alias", "app")
    members = _members(image.write(tmp_path / "img.tar"))
    for name, data in members.items():
        if name.startswith("blobs/sha256/"):
            assert name.rsplit("/", 1)[1] == hashlib.sha256(data).hexdigest()
    index = json.loads(members["index.json"])
    entry = index["manifests"][0]
    assert entry["annotations"]["io.containerd.image.name"] == "docker.io/lab/test:v1"
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "v1"
    manifest = json.loads(members["blobs/sha256/" + entry["digest"].split(":")[1]])
    config = json.loads(members["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    assert config["config"]["Cmd"] == ["/bin/app"]
    layer = members["blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]]
    assert config["rootfs"]["diff_ids"] == [manifest["layers"][0]["digest"]]
    with tarfile.open(fileobj=io.BytesIO(layer)) as tar:
        names = {m.name: m for m in tar.getmembers()}
    assert names["bin/app"].mode == 0o755
    assert names["bin/alias"].linkname == "app"
    assert names["bin"].isdir() and names["tmp"].isdir()


def test_same_content_gives_the_same_image(tmp_path: Path) -> None:
    def build(out: Path) -> bytes:
        image = OciImage(name="docker.io/lab/x:latest")
        image.add_file("etc/motd", b"hello\n")
        return image.write(out).read_bytes()

    assert build(tmp_path / "a.tar") == build(tmp_path / "b.tar")


def test_busybox_image_has_the_binary_and_applets(tmp_path: Path) -> None:
    fake = tmp_path / "busybox"
    fake.write_bytes(b"\x7fELF-not-really")
    members = _members(build_busybox_image(tmp_path / "bb.tar", busybox=fake, applets=("sh", "echo")))
    manifest_digest = json.loads(members["index.json"])["manifests"][0]["digest"]
    layer_digest = json.loads(members["blobs/sha256/" + manifest_digest[7:]])["layers"][0]["digest"]
    with tarfile.open(fileobj=io.BytesIO(members["blobs/sha256/" + layer_digest[7:]])) as tar:
        names = {m.name: m for m in tar.getmembers()}
    assert names["bin/sh"].linkname == "busybox"
    assert names["bin/busybox"].size == len(b"\x7fELF-not-really")


def test_missing_busybox_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="busybox-static"):
        build_busybox_image(tmp_path / "x.tar", busybox=tmp_path / "nope")
