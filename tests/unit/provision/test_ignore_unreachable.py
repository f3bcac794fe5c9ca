"""``ignore_unreachable``: a task that finds its host unreachable is recorded (registered, and
counted ok + ignored as Ansible's stats do) and the host stays in the play; without it the
host leaves the play, as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.connect.base import CommandResult, UnreachableError
from kprov.provision.connect.fake import FakeConnector

from .harness import run_fake, statuses

SITE = """
- hosts: all
  gather_facts: false
  tasks:
    - name: drops
      command: drop-the-link
      ignore_unreachable: true
      register: dropped
    - name: after
      command: echo after
    - name: drops again
      command: drop-the-link
    - name: never
      command: echo never
"""


def _drop(cmd: str, stdin: bytes | None) -> CommandResult:
    raise UnreachableError("h1", "connection reset by peer")


def test_an_ignored_unreachable_task_keeps_the_host_in_the_play(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeConnector(host="h1").on("drop-the-link", _drop).on("echo after", stdout="after\n")
    report, registered = run_fake(tmp_path, monkeypatch, {"site.yml": SITE}, ["h1"], {"h1": fake})
    assert statuses(report, "h1") == [("drops", "unreachable"), ("after", "changed"),
                                      ("drops again", "unreachable")]
    assert registered["h1"]["dropped"]["unreachable"] is True
    stats = report.stats["h1"]
    assert (stats.ok, stats.ignored, stats.unreachable, stats.changed) == (2, 1, 1, 1)
    assert not report.ok  # the second, not ignored, left the host unreachable


PER_HOST = """
- hosts: all
  gather_facts: false
  tasks:
    - name: drops
      command: drop-the-link
      ignore_unreachable: "{{ forgive | default(false) }}"
    - name: after
      command: echo after
"""


def test_ignore_unreachable_is_rendered_per_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row of the boolean keyword table (execute.task.keywords): the template over each host's
    variables, so one host stays in the play and the other leaves it."""
    fakes = {h: FakeConnector(host=h).on("drop-the-link", _drop).on("echo after", stdout="after\n")
             for h in ("h1", "h2")}
    files = {"site.yml": PER_HOST, "host_vars/h1.yml": "forgive: true\n"}
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1", "h2"], fakes)
    assert statuses(report, "h1") == [("drops", "unreachable"), ("after", "changed")]
    assert statuses(report, "h2") == [("drops", "unreachable")]
    assert (report.stats["h1"].ignored, report.stats["h2"].ignored) == (1, 0)
