"""Image archives: which images they name (docker RepoTags, OCI annotations) and how skopeo
selects each; the stand-ins archive; the host-side loader's skopeo commands and URLs."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from kprov.images.archive import ArchiveError, ArchiveImage, archive_images, source_reference
from kprov.images.mirror_load import copy_command, manifest_url
from kprov.images.oci import FileEntry, ImageSpec, build_multi_archive
from kprov.images.standins import BASE_NAMES, build_standins


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _spec(ref: str) -> ImageSpec:
    return ImageSpec(ref, files=[FileEntry("hello", data=b"hi")])


def test_kprov_archives_are_read_by_their_docker_repo_tags(tmp_path: Path) -> None:
    path = tmp_path / "a.tar"
    build_multi_archive([_spec("busybox:1.36"), _spec("registry.k8s.io/pause:3.9")], path)
    images = archive_images(path)
    assert [i.name for i in images] == ["docker.io/library/busybox:1.36", "registry.k8s.io/pause:3.9"]
    assert {i.transport for i in images} == {"docker-archive"}
    assert source_reference(path, images[1]) == f"docker-archive:{path}:registry.k8s.io/pause:3.9"


def test_docker_save_short_names_are_normalized(tmp_path: Path) -> None:
    path = _tar(tmp_path / "d.tar", {"manifest.json": json.dumps(
        [{"Config": "c.json", "RepoTags": ["nginx:1.25", "quay.io/x/y:2"], "Layers": []}]).encode()})
    assert [(i.name, i.selector) for i in archive_images(path)] == [
        ("docker.io/library/nginx:1.25", "nginx:1.25"), ("quay.io/x/y:2", "quay.io/x/y:2")]


def test_oci_only_archives(tmp_path: Path) -> None:
    single = _tar(tmp_path / "o.tar", {"index.json": json.dumps({"manifests": [
        {"annotations": {"org.opencontainers.image.ref.name": "ghcr.io/o/app:v1"}}]}).encode()})
    (image,) = archive_images(single)
    assert (image.name, image.transport) == ("ghcr.io/o/app:v1", "oci-archive")
    assert source_reference(single, image) == f"oci-archive:{single}"  # the only image: no selector
    multi = _tar(tmp_path / "m.tar", {"index.json": json.dumps({"manifests": [
        {"annotations": {"io.containerd.image.name": "docker.io/library/a:1",
                         "org.opencontainers.image.ref.name": "1"}},
        {"annotations": {"io.containerd.image.name": "docker.io/library/b:2",
                         "org.opencontainers.image.ref.name": "2"}}]}).encode()})
    assert [(i.name, i.selector) for i in archive_images(multi)] == [
        ("docker.io/library/a:1", "1"), ("docker.io/library/b:2", "2")]


@pytest.mark.parametrize("members,message", [
    ({"index.json": b'{"manifests": [{"annotations": {"org.opencontainers.image.ref.name": "latest"}}]}'},
     "no named image"),
    ({"manifest.json": b'[{"RepoTags": ["a:1"]}, {"RepoTags": ["docker.io/library/a:1"]}]'}, "twice"),
    ({"index.json": b"{"}, "not JSON"),
])
def test_unusable_archives_are_refused(tmp_path: Path, members: dict[str, bytes], message: str) -> None:
    with pytest.raises(ArchiveError, match=message):
        archive_images(_tar(tmp_path / "x.tar", members))


def test_not_a_tar(tmp_path: Path) -> None:
    path = tmp_path / "x.tar"
    path.write_bytes(b"nope")
    with pytest.raises(ArchiveError, match="not a readable tar"):
        archive_images(path)


def test_standins_share_one_layer_and_name_every_public_name(tmp_path: Path) -> None:
    path = tmp_path / "standins.tar"
    digests = build_standins(path)
    assert sorted(digests) == sorted(BASE_NAMES)
    assert {i.name for i in archive_images(path)} == set(BASE_NAMES)
    with tarfile.open(path) as tar:
        big = [m for m in tar.getmembers() if m.size > 100_000]
    assert len(big) == 1  # busybox and pause tags: one busybox layer


def test_standins_add_the_callers_names_a_recipe_provides(tmp_path: Path) -> None:
    path = tmp_path / "standins.tar"
    digests = build_standins(path, extra_names=["gcr.io/google_containers/pause", "busybox:1.29"])
    added = {"gcr.io/google_containers/pause:latest", "docker.io/library/busybox:1.29"}
    assert added <= set(digests) and added <= {i.name for i in archive_images(path)}
    with pytest.raises(ValueError, match="no recipe for: docker.io/library/alpine:latest"):
        build_standins(tmp_path / "other.tar", extra_names=["alpine"])


def test_loader_commands() -> None:
    image = ArchiveImage("registry.k8s.io/pause:3.9", "docker-archive", "registry.k8s.io/pause:3.9")
    assert copy_command(Path("/a.tar"), image) == [
        "skopeo", "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
        "docker-archive:/a.tar:registry.k8s.io/pause:3.9", "docker://127.0.0.1:5001/registry.k8s.io/pause:3.9"]
    assert manifest_url("docker.io/library/busybox:latest") == (
        "http://127.0.0.1:5001/v2/docker.io/library/busybox/manifests/latest")


def test_remote_load_command_forces_and_cleans_up() -> None:
    from kprov.images.mirror import load_command

    assert load_command(["/u/0-a b.tar"]) == (
        "/opt/kprov/venv/bin/python -m kprov.images.mirror_load --force '/u/0-a b.tar'; rc=$?; "
        "rm -f '/u/0-a b.tar'; exit $rc")


def test_intermixed_changed_and_plain_archives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from kprov.images import mirror_load

    seen: list[tuple[str, bool]] = []
    monkeypatch.setattr(mirror_load, "_load",
                        lambda a, force, loader, record=False: seen.append((a.name, force)) or 0)
    assert mirror_load.main(["a.tar", "--changed", "b.tar", "c.tar"]) == 0
    assert seen == [("b.tar", True), ("a.tar", False), ("c.tar", False)]
