"""Machine checks give errors a person can act on."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from kprov.lab import system
from kprov.lab.bundle import apt_source_line, bundle_current, bundle_stamp
from kprov.lab.errors import LabError


def test_not_root_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="must run as root"):
        system.require_root("kprov lab up")


def test_full_disk_says_how_much_is_needed(tmp_path: Path) -> None:
    with pytest.raises(LabError, match=r"\d+ MiB needed, \d+ MiB free"):
        system.ensure_free_space(tmp_path / "not/yet/there", 2**62)
    system.ensure_free_space(tmp_path, 1)


def test_missing_tool_is_installed_or_named(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def fake_run(argv: list[str], **_: object) -> object:
        calls.append(list(argv))
        return type("P", (), {"returncode": 100, "stdout": "", "stderr": "E: no"})()

    monkeypatch.setattr(system, "run", fake_run)
    with pytest.raises(LabError, match="apt-get install kprov-no-such-pkg"):
        system.ensure_tools({"kprov-no-such-tool": "kprov-no-such-pkg"})
    assert calls[0][:2] == ["apt-get", "install"] and "kprov-no-such-pkg" in calls[0]
    assert ["apt-get", "update", "-q"] in calls
    assert system.ensure_tools({"sh": "dash"}) == []


def test_failed_command_reports_its_stderr() -> None:
    with pytest.raises(LabError, match="exit 3"):
        system.run(["sh", "-c", "echo oops >&2; exit 3"])
    with pytest.raises(LabError, match="command not found"):
        system.run(["kprov-no-such-command"])


def test_file_lock_serialises(tmp_path: Path) -> None:
    order: list[str] = []

    def holder() -> None:
        with system.file_lock(tmp_path / "l"):
            order.append("a-in")
            time.sleep(0.3)
            order.append("a-out")

    thread = threading.Thread(target=holder)
    thread.start()
    time.sleep(0.1)
    with system.file_lock(tmp_path / "l"):
        order.append("b-in")
    thread.join()
    assert order == ["a-in", "a-out", "b-in"]


def test_pid_helpers(tmp_path: Path) -> None:
    pidfile = tmp_path / "p"
    pidfile.write_text(f"{os.getpid()}\n")
    assert system.read_pid(pidfile) == os.getpid()
    pidfile.write_text("999999999\n")
    assert system.read_pid(pidfile) is None
    assert system.read_pid(tmp_path / "missing") is None


def test_bundle_stamp_follows_the_package_list(tmp_path: Path) -> None:
    assert bundle_stamp(["a", "b"]) == bundle_stamp(["b", "a", "a"])
    assert bundle_stamp(["a"]) != bundle_stamp(["a", "b"])
    assert not bundle_current(tmp_path, ["a"])
    (tmp_path / "Packages").write_text("")
    (tmp_path / ".kprov-bundle-stamp").write_text(bundle_stamp(["a"]) + "\n")
    assert bundle_current(tmp_path, ["a"])
    assert not bundle_current(tmp_path, ["a", "etcd-server"])
    assert apt_source_line("http://10.77.2.1:8000") == "deb [trusted=yes] http://10.77.2.1:8000 ./\n"


def test_raise_sysctl_never_lowers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_path = Path

    def fake_path(*parts: object) -> Path:
        if parts == ("/proc/sys",):
            return tmp_path
        return real_path(*parts)  # type: ignore[arg-type]

    monkeypatch.setattr(system, "Path", fake_path)
    knob = tmp_path / "fs/inotify/max_user_instances"
    knob.parent.mkdir(parents=True)
    knob.write_text("128\n")
    system.raise_sysctl("fs.inotify.max_user_instances", 8192)
    assert knob.read_text() == "8192\n"
    knob.write_text("99999\n")
    system.raise_sysctl("fs.inotify.max_user_instances", 8192)
    assert knob.read_text() == "99999\n"
