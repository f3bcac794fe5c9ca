"""Creating where the folders are missing, as Ansible does, on the machine itself:
``file: state=directory recurse=true`` onto a new directory (instead of failing on the probe of
the tree under it), and ``lineinfile: create=true`` into missing folders."""

from __future__ import annotations

from pathlib import Path

from kprov.provision.connect.transports import connector_for
from kprov.provision.modules import ModuleContext, get_module


def test_recurse_onto_a_new_directory_creates_it_then_changes_nothing(tmp_path: Path) -> None:
    connector = connector_for("localhost", {"ansible_connection": "local"})
    connector.connect()
    target = tmp_path / "a" / "b"
    args = {"path": str(target), "state": "directory", "recurse": True, "mode": "0750"}
    try:
        first = get_module("file").run(ModuleContext(connector=connector), args)
        assert first.changed and not first.failed, first.msg
        assert target.is_dir() and oct(target.stat().st_mode & 0o777) == "0o750"
        (target / "inner").mkdir(mode=0o700)
        second = get_module("file").run(ModuleContext(connector=connector), args)
        assert second.changed and oct((target / "inner").stat().st_mode & 0o777) == "0o750"
        third = get_module("file").run(ModuleContext(connector=connector), args)
        assert not third.changed and not third.failed
    finally:
        connector.close()


def test_lineinfile_create_makes_the_missing_folders(tmp_path: Path) -> None:
    connector = connector_for("localhost", {"ansible_connection": "local"})
    connector.connect()
    target = tmp_path / "new" / "deeper" / "app.conf"
    args = {"path": str(target), "line": "key=1", "create": True}
    try:
        first = get_module("lineinfile").run(ModuleContext(connector=connector), args)
        assert first.changed and not first.failed, first.msg
        assert target.read_text() == "key=1\n"
        assert not get_module("lineinfile").run(ModuleContext(connector=connector), args).changed
    finally:
        connector.close()
