"""``any_errors_fatal`` as ansible-core's linear strategy applies it (blocks target, 72781.yml):
when a host fails a task, every other host of the batch fails where it stands -- into the
rescue (or always) of the block around that task, without a failure or a rescue of its own in
the recap -- or leaves the play when no block catches it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import run_fake, statuses

H2 = ["host1", "host2"]

_72781 = """
- hosts: all
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - block:
      - block:
          - {name: first, fail: {}, when: inventory_hostname == 'host1'}
        rescue:
          - {name: in rescue, fail: {}}
      - block:
        - {name: later, debug: {msg: SHOULD NOT HAPPEN}}
"""


def test_one_hosts_failure_sends_every_host_into_the_blocks_rescue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": _72781}, H2)
    assert statuses(report, "host1") == [("first", "failed"), ("in rescue", "failed")]
    assert statuses(report, "host2") == [("first", "skipped"), ("in rescue", "failed")]
    assert (report.stats["host1"].failed, report.stats["host1"].rescued) == (1, 1)
    assert (report.stats["host2"].failed, report.stats["host2"].rescued) == (1, 0)  # not its own failure
    assert not report.ok


_RESCUED = """
- hosts: all
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - block:
        - {name: first, fail: {}, when: inventory_hostname == 'host1'}
        - {name: second, debug: {msg: not run}}
      rescue:
        - {name: in rescue, debug: {msg: rescued}}
      always:
        - {name: in always, debug: {msg: always}}
    - {name: after, debug: {msg: after}}
"""


def test_hosts_a_rescue_catches_go_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": _RESCUED}, H2)
    for host in H2:
        assert [t for t, _ in statuses(report, host)][1:] == ["in rescue", "in always", "after"]
    assert report.stats["host2"].rescued == 0 and report.stats["host1"].rescued == 1
    assert report.ok


_NO_RESCUE = """
- hosts: all
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - block:
        - {name: first, fail: {}, when: inventory_hostname == 'host1'}
      always:
        - {name: in always, debug: {msg: always}}
    - {name: after, debug: {msg: after}}
- hosts: all
  gather_facts: false
  tasks:
    - {name: next play, debug: {msg: next}}
"""


def test_without_a_rescue_every_host_runs_its_always_and_the_run_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": _NO_RESCUE}, H2)
    assert statuses(report, "host2") == [("first", "skipped"), ("in always", "ok")]
    assert report.stats["host2"].failed == 0  # failed by host1's failure, not its own
    assert not [r for r in report.results if r.task in ("after", "next play")]
    assert any("any_errors_fatal: host1 failed" in e for e in report.errors)
