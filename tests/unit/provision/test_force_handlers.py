"""force_handlers (play keyword, --force-handlers): a failed host still runs the handlers it
notified, as ansible-core's handlers target checks (round 6b)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import run_fake

_PLAY = ("- hosts: all\n  gather_facts: false\n{keyword}  tasks:\n"
         "    - set_fact: {{x: 1}}\n      changed_when: true\n      notify: h\n"
         "    - fail: {{msg: boom}}\n"
         "    - set_fact: {{after: 1}}\n"
         "  handlers:\n    - name: h\n      set_fact: {{handled: 1}}\n")


@pytest.mark.parametrize(("keyword", "cli", "runs"), [
    ("", False, False),
    ("", True, True),
    ("  force_handlers: true\n", False, True),
    ("  force_handlers: false\n", True, False),
])
def test_a_failed_host_runs_its_handlers_only_when_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keyword: str, cli: bool, runs: bool
) -> None:
    files = {"site.yml": _PLAY.format(keyword=keyword)}
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["h1"], force_handlers=cli)
    assert not report.ok and "after" not in runtime["h1"]
    assert ("handled" in runtime["h1"]) is runs
    assert any(r.handler for r in report.results) is runs
