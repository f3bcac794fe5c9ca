"""ini_file's pure edit against community.general's own module, run here on the same text.

The collection ships with the test extras (ansible); its ``do_ini`` is called with a stand-in
module object on a temporary file, so every case compares kprov's text and message with what
Ansible writes, byte for byte.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from kprov.provision.modules.files.ini_file import IniEdit, edit_ini

ini_file = pytest.importorskip("ansible_collections.community.general.plugins.modules.ini_file")

TEXT = """# top comment
top = 1

[Timer]
OnCalendar = daily
#Persistent = true

[Install]
WantedBy = timers.target
WantedBy = other.target
; disabled = yes
[Empty]
"""


class _Module:
    check_mode = False
    _diff = False

    def __init__(self, tmp: Path) -> None:
        self.tmpdir = str(tmp)

    def fail_json(self, **kwargs: Any) -> None:
        raise AssertionError(kwargs)

    def atomic_move(self, src: str, dest: str) -> None:
        shutil.move(src, dest)


CASES = [
    ("", IniEdit("Timer", "OnCalendar", ("hourly",))),
    (TEXT, IniEdit("Timer", "OnCalendar", ("hourly",))),
    (TEXT, IniEdit("Timer", "OnCalendar", ("daily",))),
    (TEXT, IniEdit("Timer", "Persistent", ("true",))),
    (TEXT, IniEdit("Timer", "Persistent", ("true",), modify_inactive_option=False)),
    (TEXT, IniEdit("Timer", "Unit", ("x.service",), no_extra_spaces=True)),
    (TEXT, IniEdit("Install", "WantedBy", ("timers.target",))),
    (TEXT, IniEdit("Install", "WantedBy", ("timers.target",), exclusive=False)),
    (TEXT, IniEdit("Install", "WantedBy", ("a", "b", "c"))),
    (TEXT, IniEdit("Install", "disabled", ("no",))),
    (TEXT, IniEdit("Install", "WantedBy", (), present=False)),
    (TEXT, IniEdit("Install", "WantedBy", ("other.target",), present=False, exclusive=False)),
    (TEXT, IniEdit("Install", None, (), present=False)),
    (TEXT, IniEdit("Empty", "x", ("1",))),
    (TEXT, IniEdit("New", "x", ("1",))),
    (TEXT, IniEdit("New", None, ())),
    (TEXT, IniEdit(None, "top", ("2",))),
    (TEXT, IniEdit(None, "fresh", ("yes",))),
    (TEXT, IniEdit("Timer", "Flag", (), allow_no_value=True)),
    ("[a]\nx = 1", IniEdit("a", "x", ("1",))),
    ("[a]\nx = 1\n", IniEdit("a", "y", ("2",), present=False)),
    ("", IniEdit("a", "y", ("2",), present=False)),
]


@pytest.mark.parametrize(("text", "want"), CASES)
def test_edit_matches_the_collections_module(tmp_path: Path, text: str, want: IniEdit) -> None:
    path = tmp_path / "file.ini"
    path.write_text(text)
    changed, _, _, their_msg = ini_file.do_ini(
        _Module(tmp_path),
        str(path),
        section=want.section,
        option=want.option,
        values=list(want.values),
        state="present" if want.present else "absent",
        exclusive=want.exclusive,
        no_extra_spaces=want.no_extra_spaces,
        allow_no_value=want.allow_no_value,
        modify_inactive_option=want.modify_inactive_option,
    )
    theirs = path.read_text()
    ours, msg = edit_ini(text, want)
    assert (ours, ours != text) == (theirs, changed)
    assert msg == their_msg
    os.remove(path)
