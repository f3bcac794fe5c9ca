"""Meta tasks and meta handlers as ansible-playbook runs and prints them (handlers target,
test_handlers_meta.yml): a ``meta`` handler runs as the strategy runs any meta action, under a
``RUNNING HANDLER`` banner; a meta task prints its banner and, at -vv, ``META: <msg>``, and a
false ``when`` its ``skipping:`` line; the loader's own flushes print nothing; no meta is in
the recap (ansible-core's ``_execute_meta`` counts none)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.connect.fake import FakeConnector
from kprov.provision.execute.callback_default import AnsibleConsole

from .harness import run_fake

_SITE = """
- hosts: all
  gather_facts: false
  tasks:
    - {command: echo, notify: noop_handler}
    - meta: noop
    - {meta: end_host, when: false}
  handlers:
    - {name: noop_handler, meta: noop}
"""


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verbosity: int):
    lines: list[str] = []
    fakes = {"A": FakeConnector(host="A").on("echo")}
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": _SITE}, ["A"], fakes,
                         observer=AnsibleConsole(lines.append, verbosity))
    return report, lines


def test_a_meta_handler_runs_under_its_banner_and_is_not_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, lines = _run(tmp_path, monkeypatch, 2)
    assert report.ok
    assert (report.stats["A"].ok, report.stats["A"].changed, report.stats["A"].skipped) == (1, 1, 0)
    handler = lines.index(next(x for x in lines if x.startswith("RUNNING HANDLER [noop_handler] *")))
    assert lines[handler + 1].startswith("task path: ") and lines[handler + 2] == "META: noop"
    assert sum(x.startswith("TASK [meta] *") for x in lines) == 2  # the implicit flushes print none
    assert lines.count("META: noop") == 2


def test_a_skipped_meta_prints_ansibles_skip_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, quiet = _run(tmp_path, monkeypatch, 0)
    assert "skipping: [A]" in quiet and not [x for x in quiet if x.startswith("META:")]
    _, verbose = _run(tmp_path / "vv", monkeypatch, 2)
    reason = "end_host conditional evaluated to False, continuing execution for A"
    assert f"META: {reason}" in verbose
    assert ('skipping: [A] => {"msg": "end_host conditional evaluated to false, continuing execution for A", '
            f'"skip_reason": "{reason}"}}') in verbose
