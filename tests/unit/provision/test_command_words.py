"""The command module's words, as Ansible passes them: ``os.path.expanduser(os.path.expandvars
(word))`` in the module's environment. Checked against Python's own functions through the
real shells a host may have, and end to end through the local connector."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from kprov.provision.connect.local import LocalConnector
from kprov.provision.modules.commands.command import _quote_expanding

from .harness import run_fake, statuses

ENV = {"HOME": "/root", "X": "ex", "EMPTY": "", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
WORDS = ["plain", "$X", "${X}", "a$X-b", "$UNSET", "${UNSET}", "{print $1}", "$$", "${a b}", "$EMPTY|",
         "~", "~/d", "~root/x", "~nosuchuser-kprov/y", "it's $X", '"q" `b` $(c)', "\\$X", "$X$UNSET${X}",
         "${}", "$1abc", "x~", "", "$X{y}"]


def _ansible(word: str, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as m:
        for name in list(os.environ):
            m.delenv(name)
        for name, value in ENV.items():
            m.setenv(name, value)
        return os.path.expanduser(os.path.expandvars(word))


@pytest.mark.parametrize("shell", [s for s in ("dash", "bash") if shutil.which(s)])
def test_each_word_reaches_the_command_as_ansible_passes_it(shell: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for word in WORDS:
        done = subprocess.run([shell, "-c", "printf '%s' " + _quote_expanding(word)], env=ENV,
                              capture_output=True, text=True, check=True)
        assert done.stdout == _ansible(word, monkeypatch), word


def test_an_unset_reference_stays_as_written_in_a_real_task(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """awk's ``$1`` (no such variable) reaches awk, a set variable is expanded, and argv
    words are expanded too."""
    (tmp_path / "in.txt").write_text("first second\n")
    site = f"""
- hosts: all
  gather_facts: false
  tasks:
    - name: awk
      command: awk '{{print $1}}' {tmp_path}/in.txt
      register: awk
    - name: argv
      command:
        argv: [printf, "%s|%s", "$KPROV_TEST_WORD", "$KPROV_UNSET_WORD"]
      register: argv
"""
    monkeypatch.delenv("KPROV_UNSET_WORD", raising=False)
    monkeypatch.setenv("KPROV_TEST_WORD", "set")  # the local connector's commands inherit it
    report, registered = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"],
                                  {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert statuses(report, "h1") == [("awk", "changed"), ("argv", "changed")]
    assert registered["h1"]["awk"]["stdout"] == "first"
    assert registered["h1"]["argv"]["stdout"] == "set|$KPROV_UNSET_WORD"
