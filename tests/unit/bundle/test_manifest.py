"""The bundle manifest: Packages parsing, file digests, verification and clear errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from kprov.bundle.aptrepo import AptSources, apt_source_line, repo_current, repo_stamp
from kprov.bundle.build import archive_bundle, bundle_vars
from kprov.bundle.manifest import (
    BundleManifest,
    DebEntry,
    ImageEntry,
    file_digests,
    parse_packages_index,
    read_manifest,
    verify_bundle,
)

PACKAGES = """Package: jq
Version: 1.6-2.1+deb12u3
Architecture: amd64
Depends: libjq1 (= 1.6-2.1+deb12u3), libc6 (>= 2.34)
Description: lightweight and flexible command-line JSON processor
 jq is like sed for JSON data
 Package: not-a-field (continuation line)
Filename: ./jq_1.6-2.1+deb12u3_amd64.deb

Package: conntrack
Version: 1:1.4.7-1+b2
Architecture: amd64
Filename: ./conntrack_1%3a1.4.7-1+b2_amd64.deb
"""


def _bundle(root: Path) -> BundleManifest:
    (root / "debs").mkdir(parents=True)
    (root / "debs" / "Packages").write_text(PACKAGES)
    (root / "debs" / "jq_1.6-2.1+deb12u3_amd64.deb").write_bytes(b"deb one")
    (root / "wheelhouse").mkdir()
    (root / "wheelhouse" / "kprov-wheelhouse-abc.tar.gz").write_bytes(b"wheels")
    (root / "runtime").mkdir()
    (root / "runtime" / "kprov-runtime-abc-py3.11.tar.gz").write_bytes(b"tree")
    (root / "runtime" / "kprov-runtime-abc-py3.11-node.tar.gz").write_bytes(b"small tree")
    (root / "images").mkdir()
    (root / "images" / "pause.tar").write_bytes(b"oci")
    manifest = BundleManifest(
        kprov_version="0.1.0", suite="bookworm", requested_packages=["jq"],
        debs=parse_packages_index(PACKAGES), wheelhouse_archive="wheelhouse/kprov-wheelhouse-abc.tar.gz",
        wheelhouse_digest="abc", images=[ImageEntry("kprov.local/pause:1", "images/pause.tar", "sha256:x")],
        files=file_digests(root), runtime_archive="runtime/kprov-runtime-abc-py3.11.tar.gz",
        runtime_digest="abc", runtime_node_archive="runtime/kprov-runtime-abc-py3.11-node.tar.gz",
    )
    manifest.write(root)
    return manifest


def test_packages_index_gives_name_version_and_file() -> None:
    entries = parse_packages_index(PACKAGES)
    assert entries == [
        DebEntry("conntrack", "1:1.4.7-1+b2", "amd64", "conntrack_1%3a1.4.7-1+b2_amd64.deb"),
        DebEntry("jq", "1.6-2.1+deb12u3", "amd64", "jq_1.6-2.1+deb12u3_amd64.deb"),
    ]


def test_file_digests_are_sha256_and_skip_manifest_and_partial(tmp_path: Path) -> None:
    _bundle(tmp_path)
    (tmp_path / "debs" / "partial").mkdir()
    (tmp_path / "debs" / "partial" / "half.deb").write_bytes(b"x")
    digests = file_digests(tmp_path)
    assert digests["images/pause.tar"] == hashlib.sha256(b"oci").hexdigest()
    assert "manifest.json" not in digests
    assert not any("partial" in name for name in digests)


def test_manifest_round_trips_and_verifies(tmp_path: Path) -> None:
    written = _bundle(tmp_path)
    assert read_manifest(tmp_path) == written
    assert verify_bundle(tmp_path) == []


def test_verify_names_changed_missing_and_extra_files(tmp_path: Path) -> None:
    _bundle(tmp_path)
    (tmp_path / "images" / "pause.tar").write_bytes(b"tampered")
    (tmp_path / "debs" / "jq_1.6-2.1+deb12u3_amd64.deb").unlink()
    (tmp_path / "debs" / "stray.deb").write_bytes(b"?")
    assert verify_bundle(tmp_path) == [
        "missing: debs/jq_1.6-2.1+deb12u3_amd64.deb",
        "not in the manifest: debs/stray.deb",
        "sha256 differs: images/pause.tar",
    ]


def test_bad_manifests_name_the_file_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no manifest"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{\n  oops")
    with pytest.raises(ValueError, match=r"manifest.json: line 2: not JSON"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="field `format` is 99"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 1, "suite": "bookworm"}))
    with pytest.raises(ValueError, match="missing or malformed field 'kprov_version'"):
        read_manifest(tmp_path)


def test_vars_point_at_the_bundle_parts(tmp_path: Path) -> None:
    _bundle(tmp_path)
    found = bundle_vars(tmp_path)
    assert found["kprov_bundle_dir"] == str(tmp_path.resolve())
    assert found["kprov_offline_repo_src"] == str(tmp_path.resolve() / "debs")
    wheelhouse = tmp_path.resolve() / "wheelhouse/kprov-wheelhouse-abc.tar.gz"
    assert found["kprov_wheelhouse_archive"] == str(wheelhouse)
    assert found["kprov_wheelhouse_digest"] == "abc"
    runtime = tmp_path.resolve() / "runtime/kprov-runtime-abc-py3.11.tar.gz"
    assert found["kprov_runtime_archive"] == str(runtime)
    assert found["kprov_runtime_digest"] == "abc"
    node = tmp_path.resolve() / "runtime/kprov-runtime-abc-py3.11-node.tar.gz"
    assert found["kprov_runtime_node_archive"] == str(node)
    assert found["kprov_offline_repo_files"] == [
        "Packages", "Packages.gz", "Release",
        "conntrack_1%3a1.4.7-1+b2_amd64.deb", "jq_1.6-2.1+deb12u3_amd64.deb",
    ]
    assert found["kprov_image_pause_archive"] == str(tmp_path.resolve() / "images/pause.tar")


def test_archive_holds_the_bundle_under_one_top_directory(tmp_path: Path) -> None:
    import tarfile

    _bundle(tmp_path / "b")
    archive = archive_bundle(tmp_path / "b", tmp_path / "out" / "bundle.tar.gz")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "kprov-bundle/manifest.json" in names
    assert "kprov-bundle/images/pause.tar" in names
    assert all(name.startswith("kprov-bundle") for name in names)


def test_repo_stamp_follows_packages_and_sources(tmp_path: Path) -> None:
    assert repo_stamp(["a", "b"]) == repo_stamp(["b", "a", "a"])
    assert repo_stamp(["a"]) != repo_stamp(["a"], AptSources(suite="trixie"))
    assert not repo_current(tmp_path, ["a"])
    (tmp_path / "Packages").write_text("")
    (tmp_path / ".kprov-bundle-stamp").write_text(repo_stamp(["a"]) + "\n")
    assert repo_current(tmp_path, ["a"])
    assert not repo_current(tmp_path, ["a", "b"])
    line = apt_source_line("file:/opt/kprov/bundle/debs")
    assert line == "deb [trusted=yes] file:/opt/kprov/bundle/debs ./\n"
