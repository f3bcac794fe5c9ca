"""The file module's modification_time/access_time (modules.filetimes): the decision logic on
its own, and the module for real through the local connector in a temp dir."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kprov.provision.modules.base import ModuleFailed
from kprov.provision.modules.files.filetimes import FileTimes, ProbedTimes, requested_times, time_commands

FORMATS = {"modification_time_format": "%Y%m%d%H%M.%S", "access_time_format": "%Y%m%d%H%M.%S"}


def _epoch(text: str) -> float:
    return time.mktime(time.strptime(text, "%Y%m%d%H%M.%S"))


def test_defaults_per_state_and_given_times_read_as_local_time() -> None:
    assert requested_times(FORMATS, "touch") == FileTimes("now", "now")
    assert requested_times(FORMATS, "file").untouched
    given = requested_times({**FORMATS, "modification_time": "202301021530.45", "access_time": "preserve"},
                            "touch")
    assert given == FileTimes("2023-01-02 15:30:45", None) and given.given == {"m": "2023-01-02 15:30:45"}
    with pytest.raises(ModuleFailed, match="Error while obtaining timestamp for time soon using format"):
        requested_times({**FORMATS, "access_time": "soon"}, "touch")


def test_commands_only_for_times_that_differ() -> None:
    times = FileTimes("2023-01-02 15:30:45", None)
    same = ProbedTimes(mtime=1672673445.0, atime=5.5, wanted={"m": 1672673445.0})
    assert time_commands("/f", times, same, existed=True, recurse=False) == []
    off = ProbedTimes(mtime=1672673445.25, atime=5.5, wanted={"m": 1672673445.0})
    assert time_commands("/f", times, off, existed=True, recurse=False) == [
        "touch -c -m -d '2023-01-02 15:30:45' -- /f"]
    assert time_commands("/f", times, same, existed=False, recurse=False)  # made now: set it
    both_now = time_commands("/f", FileTimes("now", "now"), same, existed=True, recurse=False)
    assert both_now == ["touch -c -- /f"]
    atime_now = time_commands("/f", FileTimes(None, "now"), same, existed=True, recurse=False)
    assert atime_now == ["touch -c -a -- /f"]
    assert time_commands("/f", FileTimes(None, None), off, existed=True, recurse=False) == []


def test_touch_with_preserved_times_is_idempotent(run_local, tmp_path: Path) -> None:
    path = tmp_path / "marker"
    args = {"path": str(path), "state": "touch", "modification_time": "preserve", "access_time": "preserve"}
    assert run_local("file", args).changed and path.exists()
    os.utime(path, (1000.5, 2000.5))
    assert not run_local("file", args).changed
    assert (path.stat().st_atime, path.stat().st_mtime) == (1000.5, 2000.5)
    assert run_local("file", {"path": str(path), "state": "touch"}).changed  # now, now: every time


def test_given_times_set_once_and_check_mode_does_nothing(run_local, tmp_path: Path) -> None:
    path = tmp_path / "stamped"
    path.write_text("")
    args = {"path": str(path), "state": "file", "modification_time": "202301021530.45",
            "access_time": "2023-03-04", "access_time_format": "%Y-%m-%d"}
    check = run_local("file", args, check=True)
    assert check.changed and path.stat().st_mtime != _epoch("202301021530.45")
    assert run_local("file", args).changed
    assert path.stat().st_mtime == _epoch("202301021530.45")
    assert path.stat().st_atime == time.mktime(time.strptime("2023-03-04", "%Y-%m-%d"))
    assert not run_local("file", args).changed


def test_recurse_sets_every_entry(run_local, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "leaf").write_text("x")
    args = {"path": str(tree), "state": "directory", "recurse": True, "modification_time": "201001010000.00"}
    assert run_local("file", args).changed
    for entry in (tree, tree / "sub", tree / "sub" / "leaf"):
        assert entry.stat().st_mtime == _epoch("201001010000.00")
    assert not run_local("file", args).changed
    os.utime(tree / "sub" / "leaf", (1.0, 2.0))
    assert run_local("file", args).changed
    assert (tree / "sub" / "leaf").stat().st_mtime == _epoch("201001010000.00")
