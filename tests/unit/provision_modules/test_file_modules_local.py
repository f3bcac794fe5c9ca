"""File-handling modules for real, through the local connector in a temp dir: each changes,
then reports ok; check mode reports the change and does nothing; diffs carry the text."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path

import jinja2


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_copy_content_changed_then_ok_and_diff(run_local, tmp_path: Path) -> None:
    dest = tmp_path / "etc" / "app.conf"
    dest.parent.mkdir()
    args = {"content": "port=1\n", "dest": str(dest), "mode": "0640"}
    check = run_local("copy", args, check=True)
    assert check.changed and not dest.exists()
    first = run_local("copy", args)
    assert first.changed and dest.read_text() == "port=1\n" and mode_of(dest) == 0o640
    assert first.diff[0]["after"] == "port=1\n" and first.data["checksum"]
    assert not run_local("copy", args).changed
    changed = run_local("copy", {**args, "content": "port=2\n", "backup": True})
    assert changed.diff[0]["before"] == "port=1\n" and changed.diff[0]["after"] == "port=2\n"
    assert Path(changed.data["backup_file"]).read_text() == "port=1\n"
    mode_only = run_local("copy", {**args, "content": "port=2\n", "mode": "0600"})
    assert mode_only.changed and mode_of(dest) == 0o600 and mode_only.diff[0]["after"]["mode"] == "0600"


def test_copy_src_into_directory(run_local, tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "motd").write_text("hi\n")
    target = tmp_path / "out"
    target.mkdir()
    assert run_local("ansible.builtin.copy", {"src": "motd", "dest": f"{target}/"}).changed
    assert (target / "motd").read_text() == "hi\n"
    assert not run_local("copy", {"src": "motd", "dest": str(target)}).changed


def test_template_renders_with_engine_renderer(run_local, tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "unit.j2").write_text("name={{ name }}\n")
    render = lambda text: jinja2.Template(text, keep_trailing_newline=True).render(name="etcd")  # noqa: E731
    dest = tmp_path / "unit"
    assert run_local("template", {"src": "unit.j2", "dest": str(dest)}, render=render).changed
    assert dest.read_text() == "name=etcd\n"
    assert not run_local("template", {"src": "unit.j2", "dest": str(dest)}, render=render).changed


def test_file_states(run_local, tmp_path: Path) -> None:
    d = tmp_path / "a" / "b"
    assert run_local("file", {"path": str(d), "state": "directory", "mode": "0750"}).changed
    assert d.is_dir() and mode_of(d) == 0o750
    assert not run_local("file", {"path": str(d), "state": "directory", "mode": "0750"}).changed
    link = tmp_path / "link"
    assert run_local("file", {"src": str(d), "dest": str(link), "state": "link"}).changed
    assert os.readlink(link) == str(d)
    assert not run_local("file", {"src": str(d), "dest": str(link), "state": "link"}).changed
    checked = run_local("file", {"path": str(tmp_path / "a"), "state": "absent"}, check=True)
    assert checked.changed and d.exists()
    assert run_local("file", {"path": str(tmp_path / "a"), "state": "absent"}).changed
    assert not (tmp_path / "a").exists()
    assert not run_local("file", {"path": str(tmp_path / "a"), "state": "absent"}).changed
    missing = run_local("file", {"path": str(tmp_path / "nope"), "state": "file"})
    assert missing.failed and "absent" in missing.msg


def test_lineinfile_and_blockinfile(run_local, tmp_path: Path) -> None:
    conf = tmp_path / "sshd_config"
    conf.write_text("Port 22\n#PermitRootLogin yes\n")
    args = {"path": str(conf), "regexp": "^#?PermitRootLogin", "line": "PermitRootLogin no"}
    result = run_local("lineinfile", args)
    assert result.changed and result.msg == "line replaced"
    assert conf.read_text() == "Port 22\nPermitRootLogin no\n"
    assert not run_local("lineinfile", args).changed
    block = {"path": str(conf), "block": "Match User git\n  X11Forwarding no"}
    assert run_local("blockinfile", block).changed
    expected = ("# BEGIN ANSIBLE MANAGED BLOCK\nMatch User git\n  X11Forwarding no\n"
                "# END ANSIBLE MANAGED BLOCK\n")
    assert expected in conf.read_text()
    assert not run_local("blockinfile", block).changed
    assert run_local("blockinfile", {**block, "state": "absent"}).changed
    assert conf.read_text() == "Port 22\nPermitRootLogin no\n"
    created = run_local("lineinfile", {"path": str(tmp_path / "new"), "line": "x=1", "create": True})
    assert created.changed and (tmp_path / "new").read_text() == "x=1\n"
    assert run_local("lineinfile", {"path": str(tmp_path / "nofile"), "line": "x"}).failed


def test_command_shell_creates_and_check_mode(run_local, tmp_path: Path) -> None:
    marker = tmp_path / "done"
    args = {"_raw_params": f"touch {marker}", "creates": str(marker)}
    # check mode: creates would let it run, so ansible-core reports the change (not skipped)
    planned = run_local("command", args, check=True)
    assert planned.changed and not planned.skipped and not marker.exists()
    ran = run_local("command", args)
    assert ran.changed and ran.data["rc"] == 0 and marker.exists()
    again = run_local("command", args)
    assert not again.changed and "exists" in again.msg
    shell = run_local("shell", {"cmd": "echo a; echo b; exit 2", "chdir": str(tmp_path)})
    assert shell.failed and shell.data["rc"] == 2 and shell.data["stdout_lines"] == ["a", "b"]
    # argv words are expanded as the free form's are (Ansible's run_command expandvars)
    argv = run_local("command", {"argv": ["printf", "%s|", "a b", "$HOME", "$KPROV_NO_SUCH_VAR"]})
    assert argv.data["stdout"] == f"a b|{os.environ['HOME']}|$KPROV_NO_SUCH_VAR|"


def test_command_removes_with_a_glob(run_local, tmp_path: Path) -> None:
    (tmp_path / "a.lock").write_text("")
    args = {"cmd": f"rm {tmp_path}/*.lock", "removes": f"{tmp_path}/*.lock"}
    ran = run_local("shell", args)
    assert ran.changed and ran.data["rc"] == 0 and not (tmp_path / "a.lock").exists()
    again = run_local("shell", args)
    assert not again.changed and "does not exist" in again.msg and again.data["rc"] == 0
    both = run_local("command", {"_raw_params": "false", "creates": str(tmp_path / "none"),
                                 "removes": f"{tmp_path}/*.lock"})
    assert not both.changed and not both.failed and "does not exist" in both.msg


def test_stat_slurp(run_local, tmp_path: Path) -> None:
    f = tmp_path / "data.bin"
    f.write_bytes(b"\x00\x01payload")
    f.chmod(0o604)
    st = run_local("stat", {"path": str(f)}).data["stat"]
    assert st["exists"] and st["isreg"] and st["mode"] == "0604" and st["size"] == 9
    assert st["checksum"] == hashlib.sha1(b"\x00\x01payload").hexdigest()
    assert run_local("stat", {"path": str(tmp_path / "none")}).data["stat"] == {"exists": False}
    slurp = run_local("slurp", {"src": str(f)})
    assert base64.b64decode(slurp.data["content"]) == b"\x00\x01payload"


def test_unarchive_then_ok(run_local, tmp_path: Path) -> None:
    (tmp_path / "files").mkdir()
    with tarfile.open(tmp_path / "files" / "bundle.tar.gz", "w:gz") as archive:
        info = tarfile.TarInfo("bin/tool")
        info.size, info.mtime = 4, 1_700_000_000
        archive.addfile(info, io.BytesIO(b"tool"))
    dest = tmp_path / "opt"
    dest.mkdir()
    args = {"src": "bundle.tar.gz", "dest": str(dest)}
    assert run_local("unarchive", args).changed
    assert (dest / "bin" / "tool").read_bytes() == b"tool"
    assert not run_local("unarchive", args).changed
    (dest / "bin" / "tool").write_bytes(b"edit")
    assert run_local("unarchive", args).changed


def test_file_recurse_fixes_the_whole_tree_once(run_local, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "f").write_text("x")
    args = {"path": str(tree), "state": "directory", "recurse": True, "mode": "0750"}
    assert run_local("file", args).changed
    assert mode_of(tree / "sub" / "f") == 0o750 and mode_of(tree / "sub") == 0o750
    assert not run_local("file", args).changed
    (tree / "sub" / "f").chmod(0o600)
    assert run_local("file", args).changed, "one entry off in the tree is found"


def test_unarchive_remote_src(run_local, tmp_path: Path) -> None:
    archive_path = tmp_path / "remote.tar"
    with tarfile.open(archive_path, "w") as archive:
        info = tarfile.TarInfo("conf/app.ini")
        info.size, info.mtime = 3, 1_700_000_000
        archive.addfile(info, io.BytesIO(b"a=1"))
    dest = tmp_path / "dest"
    dest.mkdir()
    args = {"src": str(archive_path), "dest": str(dest), "remote_src": True}
    assert run_local("unarchive", args, check=True).changed and not (dest / "conf").exists()
    assert run_local("unarchive", args).changed
    assert (dest / "conf" / "app.ini").read_bytes() == b"a=1"
    assert not run_local("unarchive", args).changed
    missing = run_local("unarchive", {**args, "src": str(tmp_path / "none.tar")})
    assert missing.failed and "does not exist" in missing.msg


def test_chdir_through_a_symlink_is_the_physical_folder(run_local, tmp_path: Path) -> None:
    # ansible-core's os.chdir: the shell's $PWD is the resolved folder, not the link's path
    (tmp_path / "root" / "site").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "root")
    shell = run_local("shell", {"_raw_params": 'dirname "$PWD"', "chdir": str(tmp_path / "link" / "site")})
    assert shell.data["stdout"] == str((tmp_path / "root").resolve())
