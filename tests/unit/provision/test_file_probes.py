"""File probes answered by one python3 process in a batch print exactly what their shell form
prints (every flag combination, odd names, links; the stat, sysctl, group, slurp and user
modules' probes and wait_for's port probe too), and fall back to the shell when Python
cannot answer the same way (a dangling link followed, a file slurp cannot read)."""

from __future__ import annotations

import grp
import os
import pwd
import re
import socket
import subprocess
from pathlib import Path

from kprov.provision.execute.probes.fileprobes import file_probe, native_script
from kprov.provision.execute.probes.prefetch import batch_script, parse_batch
from kprov.provision.modules.commands.wait_for import port_probe
from kprov.provision.modules.files.fileops import probe_script
from kprov.provision.modules.files.slurp import slurp_script
from kprov.provision.modules.files.stat import stat_script
from kprov.provision.modules.system.group import query_script as group_script
from kprov.provision.modules.system.sysctl import query_script
from kprov.provision.modules.system.user import query_script as user_script


def _tree(root: Path) -> None:
    (root / "f").write_text("hello\n")
    (root / "f").chmod(0o640)
    (root / "empty").write_bytes(b"")
    (root / "sub").mkdir()
    (root / "sp ace'q").write_text("x")
    os.symlink(root / "f", root / "lnk")
    os.symlink(root / "nowhere", root / "dangling")


def _no_atime(text: str) -> str:
    """A read for a checksum may move a file's atime between two probes: leave it out."""
    return re.sub(r"^(STAT:(?:[^|]*\|){7})[^|]*", r"\1-", text, flags=re.M)


def _shell(command: str) -> tuple[int, str, str]:
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True)
    return done.returncode, _no_atime(done.stdout), done.stderr


def _batch(commands: list[str]) -> tuple[str, list[tuple[int, str, str]]]:
    script = batch_script(commands, "TOK")
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    results = parse_batch(done.stdout, done.stderr, "TOK", len(commands))
    assert results is not None
    return script, [(r.rc, _no_atime(r.stdout), r.stderr) for r in results]


def _users() -> list[str]:
    """Accounts to query: root, one without a shadow entry's usual groups, a missing one, and
    any member of a supplementary group this machine has (``id -Gn`` lists it second)."""
    members = [m for g in grp.getgrall() for m in g.gr_mem]
    known = {p.pw_name for p in pwd.getpwall()}
    return ["root", "daemon", "nobody", "no-such-user-x", *[m for m in members if m in known][:2]]


def test_python_answers_are_the_shell_answers(tmp_path: Path) -> None:
    _tree(tmp_path)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, not listening: a connection is refused
    commands = [
        probe_script(str(tmp_path / name), checksum=checksum, content=content, follow=follow)
        for name in ("f", "empty", "sub", "lnk", "absent", "sp ace'q", "dangling")
        for checksum in (False, True)
        for content in (False, True)
        for follow in (False, True)
        if not (name == "dangling" and follow)
    ]
    commands += [
        stat_script(str(tmp_path / name), follow, algorithm)
        for name in ("f", "sub", "lnk", "absent")
        for follow in (False, True)
        for algorithm in (None, "sha1", "sha256")
    ]
    (tmp_path / "live").write_text("1\t2\n")
    commands += [query_script(str(tmp_path / file), str(tmp_path / live))
                 for file in ("f", "absent") for live in ("live", "absent")]
    commands += [group_script(name) for name in ("root", "daemon", "no-such-group-x")]
    commands += [slurp_script(str(tmp_path / name)) for name in ("f", "empty", "sp ace'q")]
    commands += [user_script(name) for name in _users()]
    commands += [port_probe("127.0.0.1", s.getsockname()[1], 5) for s in (listening, closed)]
    assert all(file_probe(c) is not None for c in commands)
    try:
        script, results = _batch([*commands, "echo after"])
        expected = [_shell(c) for c in commands]
    finally:
        listening.close()
        closed.close()
    assert "python3 -I -S" in script
    probes = [file_probe(c) for c in commands]  # python answered them all: no shell form ran
    native = native_script(probes, ["echo SHELL"] * len(probes), "TOK", 0, "true")
    assert "SHELL" not in subprocess.run(["sh", "-c", native], capture_output=True, text=True).stdout
    assert results == [*expected, (0, "after\n", "")]
    assert [rc for rc, _, _ in results[-3:-1]] == [0, 1]  # the listening port, the closed one
    assert results[-3 - len(_users())][1].startswith("PW:root:x:0:0:")


def test_what_python_cannot_answer_runs_as_shell(tmp_path: Path) -> None:
    _tree(tmp_path)
    commands = [probe_script(str(tmp_path / "dangling"), follow=True), probe_script(str(tmp_path / "f"))]
    _, results = _batch(commands)
    assert results == [_shell(c) for c in commands]
    assert "cannot stat" in results[0][2]
    commands = [slurp_script(str(tmp_path / name)) for name in ("absent", "sub")] + [group_script("root")]
    _, results = _batch(commands)
    assert results == [_shell(c) for c in commands]
    assert results[0][0] != 0 and "No such file" in results[0][2]
    assert results[2][1].startswith("root:x:0:")


def test_only_exact_probe_scripts_are_taken() -> None:
    plain = probe_script("/etc/x y", checksum=True, follow=True)
    assert file_probe(plain) == ("file", "/etc/x y", True, False, True)
    assert file_probe(stat_script("/etc/x", True, "md5")) == ("stat", "/etc/x", True, "md5")
    assert file_probe(plain + "; [ -r /etc/x ] && echo R:1") is None  # not any module's probe
    assert file_probe(query_script("/etc/s.conf", "/proc/sys/x")) == ("sysctl", "/etc/s.conf", "/proc/sys/x")
    assert file_probe("systemctl show etcd") is None
    assert file_probe(group_script("wheel")) == ("group", "wheel")
    assert file_probe(group_script("0")) is None  # getent takes a number for a GID
    assert file_probe(slurp_script("/etc/a b")) == ("slurp", "/etc/a b")
    assert file_probe("getent group wheel") is None
    assert file_probe(user_script("kpsample")) == ("user", "kpsample")
    assert file_probe(user_script("1000")) is None  # getent takes a number for a UID
    assert file_probe(port_probe("127.0.0.1", 8080, 5)) == ("port", "127.0.0.1", 8080, 5)
    assert file_probe(port_probe("localhost", 8080, 5)) is None  # a name: left to bash
    assert file_probe(port_probe("::1", 8080, 5)) is None
    assert file_probe(port_probe("127.0.0.1", 8080, 0)) is None  # timeout 0: no time limit
