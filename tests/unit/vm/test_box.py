"""Box building logic that needs no rootfs build: guest file ownership, Vagrant's box copy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kprov.vm import box as boxmod
from kprov.vm.recipe import GuestFile


def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                     "vagrant:x:1000:1000::/home/vagrant:/bin/bash\n")
    (tree / "home/vagrant").mkdir(parents=True)
    return tree


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_user_files_and_their_new_directories_belong_to_the_user(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    boxmod._write(tree, GuestFile("/home/vagrant/.ssh/authorized_keys", "key\n", 0o600, "vagrant"))
    keys = tree / "home/vagrant/.ssh/authorized_keys"
    assert keys.read_text() == "key\n"
    assert (keys.stat().st_uid, keys.stat().st_mode & 0o777) == (1000, 0o600)
    ssh_dir = keys.parent.stat()
    assert (ssh_dir.st_uid, ssh_dir.st_mode & 0o777) == (1000, 0o700)
    boxmod._write(tree, GuestFile("/etc/sudoers.d/vagrant", "x\n", 0o440))
    assert (tree / "etc/sudoers.d/vagrant").stat().st_uid == 0


def test_a_symlink_in_the_tree_is_replaced_not_followed(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    outside = tmp_path / "outside"
    outside.write_text("keep\n")
    (tree / "etc/resolv.conf").symlink_to(outside)
    boxmod._write(tree, GuestFile("/etc/resolv.conf", "# none\n"))
    assert outside.read_text() == "keep\n"
    assert not (tree / "etc/resolv.conf").is_symlink()


def test_add_box_skips_when_vagrants_copy_has_the_digest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAGRANT_HOME", str(tmp_path / "vh"))
    where = boxmod.vagrant_box_dir("kprov/debian12")
    assert where == tmp_path / "vh/boxes/kprov-VAGRANTSLASH-debian12/0/libvirt"
    calls: list[list[str]] = []
    monkeypatch.setattr(boxmod, "run", lambda argv, **kw: calls.append([str(a) for a in argv]))
    where.mkdir(parents=True)
    (where / "kprov-box.json").write_text(json.dumps({"digest": "abc"}))
    assert boxmod.add_box(tmp_path / "b.box", "abc") is False
    assert calls == []
    assert boxmod.add_box(tmp_path / "b.box", "def") is True
    assert calls and calls[0][:3] == ["vagrant", "box", "add"] and "kprov/debian12" in calls[0]
