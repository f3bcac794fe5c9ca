"""The busybox root every stand-in image is built on has the writable directories an
Alpine-based e2e image has: upstream specs write to /tmp and /var/tmp."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.images.recipes import BUSYBOX_PATH, busybox_files


@pytest.mark.skipif(not BUSYBOX_PATH.is_file(), reason="needs a static busybox (busybox-static)")
def test_tmp_and_var_tmp_are_sticky_and_world_writable() -> None:
    dirs = {f.path: f.mode for f in busybox_files() if f.is_dir}
    assert dirs["tmp"] == dirs["var/tmp"] == 0o1777
    assert "var" in dirs  # the parent comes first in the archive
    paths = [f.path for f in busybox_files()]
    assert paths.index("var") < paths.index("var/tmp")


def test_the_distroless_iptables_stand_in_is_a_busybox_root_with_conntrack() -> None:
    from kprov.images.offline import CONNTRACK, PlannedImage, image_roots, standin_recipe, standin_spec

    recipe = standin_recipe("build-image/distroless-iptables", have_agnhost=False)
    assert recipe is not None and recipe[0] == "conntrack-standin"
    if not CONNTRACK.is_file() or not BUSYBOX_PATH.is_file():
        pytest.skip("needs conntrack and busybox-static on this machine")
    ref = "registry.k8s.io/build-image/distroless-iptables:v0.2.7"
    spec = standin_spec(PlannedImage(ref, *recipe), image_roots(None))
    assert spec is not None
    paths = {f.path for f in spec.files}
    assert {"usr/sbin/conntrack", "bin/sh", "bin/sleep", "bin/grep"} <= paths


def test_the_nonroot_stand_in_runs_as_user_1234() -> None:
    from kprov.images.offline import PlannedImage, image_roots, standin_recipe, standin_spec

    recipe = standin_recipe("e2e-test-images/nonroot", have_agnhost=False)
    assert recipe is not None and recipe[0] == "nonroot-standin"
    if not BUSYBOX_PATH.is_file():
        pytest.skip("needs busybox-static on this machine")
    image = PlannedImage("registry.k8s.io/e2e-test-images/nonroot:1.4", *recipe)
    spec = standin_spec(image, image_roots(None))
    assert spec is not None and spec.user == "1234" and "bin/id" in {f.path for f in spec.files}


def test_python_is_built_on_request_only() -> None:
    from kprov.images.offline import standin_recipe
    from kprov.images.python_root import python_version
    from kprov.images.standins import standin_names

    assert not any("/python:" in name for name in standin_names(with_agnhost=True))  # (~36 MiB)
    if not python_version():
        assert standin_recipe("library/python", have_agnhost=False) is None
        pytest.skip("needs Debian's python3 on this machine")
    for repo in ("library/python", "python"):
        recipe = standin_recipe(repo, have_agnhost=False)
        assert recipe is not None and recipe[:2] == ("python-standin", "substitute")
    assert standin_recipe("someone/python", have_agnhost=False) is None


def test_python_root_copies_the_interpreter_its_library_and_their_shared_objects(tmp_path: Path) -> None:
    from kprov.images.python_root import python_files

    assert python_files(tmp_path / "no-python") == []
    interpreter = Path("/usr/bin/python3")
    if not interpreter.resolve().name.startswith("python3."):
        pytest.skip("needs Debian's python3 on this machine")
    entries = {f.path: f for f in python_files(interpreter)}
    real = str(interpreter.resolve()).lstrip("/")
    version = real.rsplit("python", 1)[1]
    assert entries[real].mode == 0o755 and entries["usr/local/bin/python"].symlink_to == "/" + real
    assert f"usr/lib/python{version}/json/__init__.py" in entries
    assert not any("__pycache__" in p or f"python{version}/test/" in p for p in entries)
    dynload = [p for p in entries if "/lib-dynload/" in p and p.endswith(".so")]
    assert any("_ssl" in p for p in dynload)
    assert any(p.endswith("/libssl.so.3") for p in entries)  # _ssl's own library came along
    dirs = [p for p, f in entries.items() if f.is_dir]
    assert all(p.rsplit("/", 1)[0] in entries for p in entries if "/" in p), "every parent is there"
    assert f"usr/lib/python{version}" in dirs
