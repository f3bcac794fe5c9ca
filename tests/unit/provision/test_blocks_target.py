"""Semantics ansible-core's blocks target showed kprov missing: a host the run cannot connect
stays in a play that gathers no facts until a task needs its session (issue71306.yml, run on
``-i host1,host2`` with nothing listening), and ``ansible_play_batch`` leaves failed hosts out
(78612.yml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.connect.fake import FakeConnector
from kprov.provision.execute import RunOptions
from kprov.provision.phases import PlaysPhase
from kprov.provision.phases import connect as connect_phase
from kprov.provision.phases.open import OpenPhase
from kprov.provision.pipelines import open_run
from kprov.provision.playbook.loader import PlaybookLoader

from .harness import run_fake, statuses, write_tree


def _run_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site: str, gather: bool):
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(connect_phase, "reach",
                        lambda host, variables, template: FakeConnector(host=host, unreachable=True))
    write_tree(tmp_path, {"hosts": "host1\nhost2\n", "site.yml": site})
    run = open_run([str(tmp_path / "hosts")], RunOptions(), playbook_dir=tmp_path)
    loader = PlaybookLoader(tmp_path, known_modules=None)
    playbook = loader.load(tmp_path / "site.yml")
    run.loader = loader
    try:
        hosts = ["host1", "host2"]
        OpenPhase(hosts, hosts if gather else []).run(run)
        PlaysPhase(playbook).run(run)
    finally:
        run.log.close()
    return run.report


_SITE = """
- hosts: all
  gather_facts: {gather}
  tasks:
    - block:
        - {{name: EXPECTED FAILURE, fail: {{}}, when: inventory_hostname == "host1"}}
        - {{name: once, debug: {{msg: ok}}, run_once: true}}
      rescue:
        - {{name: rescued, debug: {{msg: rescued}}}}
    - {{name: needs the host, command: "true"}}
"""


def test_a_host_not_connected_runs_what_needs_no_session_then_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _run_unreachable(tmp_path, monkeypatch, _SITE.format(gather="false"), gather=False)
    assert statuses(report, "host1") == [("EXPECTED FAILURE", "failed"), ("rescued", "ok"),
                                         ("needs the host", "unreachable")]
    assert statuses(report, "host2")[-1] == ("needs the host", "unreachable")
    assert report.stats["host1"].rescued == 1 and report.stats["host2"].unreachable == 1


def test_a_host_whose_facts_are_gathered_is_unreachable_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _run_unreachable(tmp_path, monkeypatch, _SITE.format(gather="true"), gather=True)
    assert [s for _, s in statuses(report, "host1")] == ["unreachable"]  # the connect, nothing after


def test_ansible_play_batch_leaves_failed_hosts_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {fail: {}, when: inventory_hostname == 'h1'}
    - {set_fact: {batch: "{{ ansible_play_batch }}", play_hosts_now: "{{ ansible_play_hosts }}"}}
"""
    report, runtime = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1", "h2"])
    assert runtime["h2"]["batch"] == ["h2"] and runtime["h2"]["play_hosts_now"] == ["h2"]


def test_a_blocks_notify_is_its_tasks_unless_they_have_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - notify: hello
      block:
        - {name: inherits, debug: {msg: a}, changed_when: true}
        - {name: own, debug: {msg: b}, changed_when: true, notify: other}
  handlers:
    - {name: hello, set_fact: {hello: world}}
    - {name: other, set_fact: {other: ran}}
"""
    report, runtime = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"])
    assert report.ok and runtime["h1"]["hello"] == "world" and runtime["h1"]["other"] == "ran"


def test_failures_clear_host_errors_forgave_stay_in_the_recap_but_the_run_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """72725.yml: ansible-core's exit code reads its failed hosts, which the meta clears."""
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - block:
        - block:
            - {name: EXPECTED FAILURE, fail: {}, when: inventory_hostname == 'h1'}
      always:
        - block:
            - meta: clear_host_errors
    - {name: after, debug: {msg: on}}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1", "h2"])
    assert report.stats["h1"].failed == 1 and report.ok
    assert ("after", "ok") in statuses(report, "h1")
    again = site.replace("    - {name: after, debug: {msg: on}}",
                         "    - {name: after, fail: {}, when: inventory_hostname == 'h1'}")
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": again}, ["h1", "h2"])
    assert report.stats["h1"].failed == 2 and not report.ok  # a failure after the clear counts
