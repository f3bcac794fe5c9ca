"""subPath / subPathExpr: expansion from the container's env, upstream's refusals, the
directory made with the volume's mode, and no escape from the volume through a symlink."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kprov.cluster.kubelet.pods.env import ConfigError
from kprov.cluster.kubelet.volumes.pod_volumes import container_mounts
from kprov.cluster.kubelet.volumes.subpath import expand_subpath_expr, subpath_dir


def test_expansion_uses_the_env_and_refuses_unset_or_empty_variables() -> None:
    env = {"POD_NAME": "web-0", "ANNOTATION": "mypath", "EMPTY": ""}
    assert expand_subpath_expr("$(ANNOTATION)/$(POD_NAME)", env) == "mypath/web-0"
    assert expand_subpath_expr("$$(POD_NAME)", env) == "$(POD_NAME)"
    with pytest.raises(ConfigError, match=r"^missing value for EMPTY, GONE$"):
        expand_subpath_expr("$(GONE)/$(EMPTY)/$(POD_NAME)", env)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("/tmp", "error SubPath `/tmp` must not be an absolute path"),
        ("..", "unable to provision SubPath `..`: must not contain '..'"),
        ("a/../../b", "unable to provision SubPath `a/../../b`: must not contain '..'"),
    ],
)
def test_absolute_and_backstepping_subpaths_are_refused(tmp_path: Path, value: str, message: str) -> None:
    mount = {"name": "v", "mountPath": "/m", "subPathExpr": "$(X)"}
    with pytest.raises(ConfigError) as err:
        subpath_dir(str(tmp_path), mount, {"X": value})
    assert str(err.value) == message
    assert list(tmp_path.iterdir()) == []


def test_missing_directories_are_made_with_the_volumes_mode(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    volume.mkdir()
    volume.chmod(0o777)
    old_umask = os.umask(0o022)
    try:
        target = subpath_dir(str(volume), {"subPathExpr": "$(A)/$(B)"}, {"A": "mypath", "B": "foo"})
    finally:
        os.umask(old_umask)
    assert target == str(volume / "mypath" / "foo")
    for made in (volume / "mypath", volume / "mypath" / "foo"):
        assert made.is_dir() and stat.S_IMODE(made.stat().st_mode) == 0o777
    assert subpath_dir(str(volume), {"mountPath": "/m"}, {}) is None


def test_a_symlink_out_of_the_volume_is_refused(tmp_path: Path) -> None:
    volume, outside = tmp_path / "vol", tmp_path / "outside"
    volume.mkdir()
    outside.mkdir()
    (volume / "escape").symlink_to(outside)
    with pytest.raises(ConfigError, match="not within volume path"):
        subpath_dir(str(volume), {"subPath": "escape/x"}, {})
    assert not (outside / "x").exists()


def test_container_mounts_expand_with_the_containers_env(tmp_path: Path) -> None:
    container = {
        "name": "c",
        "volumeMounts": [
            {"name": "w", "mountPath": "/logs", "subPathExpr": "$(POD_NAME)"},
            {"name": "w", "mountPath": "/all"},
        ],
    }
    mounts = container_mounts(container, {"w": str(tmp_path)}, {"POD_NAME": "p-1"})
    assert [(m.host_path, m.container_path) for m in mounts] == [
        (str(tmp_path / "p-1"), "/logs"),
        (str(tmp_path), "/all"),
    ]
    with pytest.raises(ConfigError, match="missing value for POD_NAME"):
        container_mounts(container, {"w": str(tmp_path)}, {})
