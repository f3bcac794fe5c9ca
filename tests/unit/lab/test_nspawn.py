"""The nspawn command line carries every fix LAB.md lists."""

from __future__ import annotations

from pathlib import Path

from kprov.lab.layout import LabLayout
from kprov.lab.nspawn import NSPAWN_ENV, nspawn_command, writable_cgroups_command


def test_command_has_the_required_flags(tmp_path: Path) -> None:
    layout = LabLayout(5, root=tmp_path)
    argv = nspawn_command(layout, "h2", modules_dir=tmp_path / "absent")
    assert argv[0] == "systemd-nspawn"
    for flag in ("--boot", "--register=no", "--keep-unit", "--capability=all", "--machine=h2",
                 "--system-call-filter=keyctl add_key request_key",
                 "--network-namespace-path=/run/netns/kp5-h2",
                 f"--directory={tmp_path}/5/hosts/h2/merged",
                 f"--bind={tmp_path}/5/hosts/h2/containerd:/var/lib/containerd"):
        assert flag in argv
    assert not any(a.startswith("--bind-ro") for a in argv)
    assert NSPAWN_ENV == {"SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network", "SYSTEMD_SECCOMP": "0"}


def test_kernel_modules_are_bound_when_the_machine_has_them(tmp_path: Path) -> None:
    argv = nspawn_command(LabLayout(0, root=tmp_path), "h1", modules_dir=tmp_path)
    assert f"--bind-ro={tmp_path}" in argv


def test_cgroup_remount_targets_the_host_init_and_every_v1_controller() -> None:
    argv = writable_cgroups_command(4242)
    assert argv[:4] == ["nsenter", "-t", "4242", "-m"]
    for controller in ("cpu", "cpuset", "memory", "devices", "pids", "freezer", "blkio"):
        assert f"/sys/fs/cgroup/{controller};" in argv[-1] or f"/sys/fs/cgroup/{controller} " in argv[-1]
