"""`kprov bundle` for real: a small bundle (jq and its dependencies) downloaded from Debian,
indexed, checked, and resolvable by apt from the bundle alone (no other source).

Needs Debian's package mirror (the same network access `kprov lab up` needs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kprov.bundle.build import bundle_vars
from kprov.bundle.manifest import read_manifest, verify_bundle
from kprov.images.oci import FileEntry, ImageSpec, build_archive

KPROV = [sys.executable, "-m", "kprov.cli.main"]


def _kprov(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400"}  # rich would wrap long paths in messages
    return subprocess.run([*KPROV, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=900, env=env)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("apt-get --download-only with its own state directories needs root")
    out = tmp_path_factory.mktemp("bundle") / "b"
    image = out.with_name("hello.tar")  # a user's image archive for the image mirror
    build_archive(ImageSpec("quay.io/kprov-test/hello:v1", files=[FileEntry("hello", data=b"hi")]), image)
    result = _kprov("bundle", "--out", str(out), "-p", "jq", "--no-wheelhouse", "--image-archive", str(image),
                    "--archive", str(out.with_suffix(".tar.gz")))
    assert result.returncode == 0, result.stderr
    return out


def test_manifest_lists_packages_with_versions_and_every_file(bundle: Path) -> None:
    manifest = read_manifest(bundle)
    names = {deb.name: deb for deb in manifest.debs}
    assert {"jq", "libjq1", "libonig5", "libc6"} <= set(names)
    assert names["jq"].version and (bundle / "debs" / names["jq"].file).is_file()
    assert manifest.requested_packages == ["jq"]
    references = {image.reference for image in manifest.images}
    assert {"kprov.local/pause:1", "kprov.local/busybox:1", "docker.io/library/busybox:latest",
            "registry.k8s.io/pause:3.9", "quay.io/kprov-test/hello:v1"} <= references
    assert set(manifest.files) >= {"debs/Packages", "debs/Release", "images/pause.tar", "images/busybox.tar",
                                   "images/standins.tar", "images/mirror/hello.tar"}
    assert verify_bundle(bundle) == []
    found = bundle_vars(bundle)
    assert found["kprov_bundle_image_archives"] == [str(bundle.resolve() / "images/mirror/hello.tar")]
    assert found["kprov_registry_standins_archive"] == str(bundle.resolve() / "images/standins.tar")
    assert "kprov_image_standins_archive" not in found and "kprov_image_pause_archive" in found


def test_apt_resolves_the_packages_from_the_bundle_alone(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text(f"deb [trusted=yes] file:{bundle / 'debs'} ./\n")
    (tmp_path / "status").write_text("")  # a host with nothing installed
    for sub in ("lists/partial", "cache/archives/partial", "empty"):
        (tmp_path / sub).mkdir(parents=True)
    options = [
        "-o", f"Dir::Etc::sourcelist={tmp_path / 'sources.list'}",
        "-o", f"Dir::Etc::sourceparts={tmp_path / 'empty'}",
        "-o", f"Dir::State::Lists={tmp_path / 'lists'}",
        "-o", f"Dir::State::status={tmp_path / 'status'}",
        "-o", f"Dir::Cache={tmp_path / 'cache'}",
        "-o", "Debug::NoLocking=1",
    ]
    update = subprocess.run(["apt-get", *options, "-q", "update"], capture_output=True, text=True)
    assert update.returncode == 0, update.stderr
    simulated = subprocess.run(["apt-get", *options, "-s", "install", "jq"], capture_output=True, text=True)
    assert simulated.returncode == 0, simulated.stdout + simulated.stderr
    assert "Inst jq " in simulated.stdout and "Inst libc6 " in simulated.stdout


def test_rebuilding_a_current_bundle_downloads_nothing(bundle: Path) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in (bundle / "debs").iterdir()}
    result = _kprov("bundle", "--out", str(bundle), "-p", "jq", "--no-wheelhouse")
    assert result.returncode == 0, result.stderr
    after = {p.name: p.stat().st_mtime_ns for p in (bundle / "debs").iterdir()}
    assert after == before


def test_archive_and_vars(bundle: Path) -> None:
    with tarfile.open(bundle.with_suffix(".tar.gz")) as tar:
        names = tar.getnames()
    assert "kprov-bundle/manifest.json" in names and "kprov-bundle/debs/Packages" in names
    result = _kprov("bundle", "--vars", "--out", str(bundle))
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == json.loads(json.dumps(bundle_vars(bundle)))
    assert "kprov_wheelhouse_archive" not in printed  # built with --no-wheelhouse
    assert printed["kprov_offline_repo_files"][:3] == ["Packages", "Packages.gz", "Release"]


def test_verify_reports_a_tampered_file(bundle: Path) -> None:
    target = bundle / "images" / "busybox.tar"
    original = target.read_bytes()
    try:
        target.write_bytes(original + b"x")
        result = _kprov("bundle", "--verify", "--out", str(bundle))
        assert result.returncode == 1
        assert "sha256 differs: images/busybox.tar" in result.stdout + result.stderr
    finally:
        target.write_bytes(original)


def test_a_new_bundle_takes_intact_debs_from_the_cache(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("apt-get --download-only with its own state directories needs root")
    cache = tmp_path / "debs"
    args = ("-p", "jq", "--no-wheelhouse", "--no-images", "--deb-cache", str(cache))
    first = _kprov("bundle", "--out", str(tmp_path / "first"), *args)
    assert first.returncode == 0, first.stderr
    cached = sorted(cache.glob("*.deb"))
    assert {p.name for p in cached} == {p.name for p in (tmp_path / "first" / "debs").glob("*.deb")}
    damaged = cached[0]
    size = damaged.stat().st_size
    damaged.unlink()  # (a hard link to the first bundle's file)
    damaged.write_bytes(os.urandom(size))  # apt itself would take it: the same size
    inodes = {p.name: p.stat().st_ino for p in cached}
    second = _kprov("bundle", "--out", str(tmp_path / "second"), *args)
    assert second.returncode == 0, second.stderr
    debs = tmp_path / "second" / "debs"
    reference = tmp_path / "first" / "debs"  # as apt downloaded them (it checks their hashes)
    assert sorted(p.name for p in debs.glob("*.deb")) == sorted(p.name for p in cached)
    for path in debs.glob("*.deb"):
        assert path.read_bytes() == (reference / path.name).read_bytes(), path.name
        from_cache = path.stat().st_ino == inodes[path.name]
        assert from_cache == (path.name != damaged.name), path.name  # only the damaged one downloaded
    assert (cache / damaged.name).read_bytes() == (debs / damaged.name).read_bytes()  # and mended
