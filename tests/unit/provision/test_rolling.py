"""Rolling plays as ansible-core runs them: ``serial`` batches (templated from extra vars and
play vars), a batch whose hosts all failed ends the playbook, ``max_fail_percentage`` counts
the batch's failed hosts against the batch's size."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.execute.play_runner import batches

from .harness import run_fake

H4 = ["h1", "h2", "h3", "h4"]

ROLLING = """
- hosts: all
  gather_facts: false
  serial: "{{ rolling_batch | default(1) }}"
  tasks:
    - {name: restart, fail: {msg: broken}, when: inventory_hostname in broken}
    - {name: healthy, debug: {msg: ok}}
- hosts: all
  gather_facts: false
  tasks:
    - {name: next play, debug: {msg: ok}}
"""


def _order(report) -> list[tuple[str, str, str]]:
    return [(r.host, r.task, r.status) for r in report.results]


def test_serial_is_templated_from_extra_vars(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": ROLLING}, H4,
                         extra_vars={"broken": [], "rolling_batch": 2})
    first = [(r.host, r.task) for r in report.results if r.task != "next play"]
    # two batches of two: both hosts of the first finish before the second batch starts
    assert {h for h, _ in first[:4]} == {"h1", "h2"} and {h for h, _ in first[4:]} == {"h3", "h4"}


def test_a_failed_host_stops_a_one_by_one_rollout_and_the_playbook(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": ROLLING}, H4, extra_vars={"broken": ["h2"]})
    assert _order(report) == [
        ("h1", "restart", "skipped"), ("h1", "healthy", "ok"),
        ("h2", "restart", "failed"),
    ]
    assert not report.ok and any("not started on h3, h4" in e for e in report.errors)


def test_a_batch_with_a_survivor_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": ROLLING}, H4,
                         extra_vars={"broken": ["h1"], "rolling_batch": 2})
    assert {r.host for r in report.results if r.task == "next play"} == {"h2", "h3", "h4"}


def test_max_fail_percentage_counts_the_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = """
- hosts: all
  gather_facts: false
  serial: 4
  max_fail_percentage: "{{ max_fail }}"
  tasks:
    - {name: restart, fail: {msg: broken}, when: inventory_hostname == 'h1'}
    - {name: healthy, debug: {msg: ok}}
"""
    # 1 of 4 failed = 25%: not more than 25 goes on, more than 20 stops every host
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, H4, extra_vars={"max_fail": 25})
    assert {r.host for r in report.results if r.task == "healthy"} == {"h2", "h3", "h4"}
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, H4, extra_vars={"max_fail": 20})
    assert not [r for r in report.results if r.task == "healthy"]
    assert any("max_fail_percentage 20.0% exceeded" in e for e in report.errors)


def test_batch_sizes_as_ansible() -> None:
    hosts = [f"h{i}" for i in range(1, 11)]
    assert batches(hosts, 0) == [hosts]
    assert batches(hosts, -1) == [hosts]
    assert [len(b) for b in batches(hosts, "10%")] == [1] * 10
    assert [len(b) for b in batches(hosts, "1%")] == [1] * 10  # at least one host
    assert [len(b) for b in batches(hosts, [1, "50%"])] == [1, 5, 4]
