"""ansible-core semantics the engine follows (issue 58), against fake connectors: set_fact
templates its keys, a loop whose items are undefined is kept until ``when`` had its say (for
tasks and includes), and a loop's result says why it did nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.execute.engine_actions.variables import invalid_variable_name

from .harness import run_fake, statuses


def test_set_fact_templates_its_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  vars: {settings: {net_ipv4_forward: "on", kernel_sysrq: "no"}, prefix: pre}
  tasks:
    - set_fact: {"{{ item.key }}": "{{ item.value }}"}
      loop: "{{ settings | dict2items }}"
    - set_fact: {"{{ prefix }}_name": plain}
"""
    report, runtime = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"])
    assert report.ok, [r.msg for r in report.results]
    assert runtime["h1"]["net_ipv4_forward"] == "on"
    assert runtime["h1"]["kernel_sysrq"] is False  # a yes/no string is a boolean, as ansible-core 2.18's
    assert runtime["h1"]["pre_name"] == "plain"
    assert "{{ item.key }}" not in runtime["h1"]


def test_set_fact_with_an_invalid_name_fails_once_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  vars: {bad: "not-a-name"}
  tasks:
    - name: store it
      set_fact: {"{{ bad }}": 1}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"])
    (result,) = report.results
    assert result.status == "failed"
    assert result.msg.startswith("Invalid variable name 'not-a-name'.")
    assert result.msg.count("store it") <= 1


def test_an_undefined_in_set_fact_key_names_the_task_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - name: store it
      set_fact: {"{{ nowhere }}": 1}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"])
    (result,) = report.results
    assert result.status == "failed" and "nowhere" in result.msg
    assert result.msg.count("store it") == 1


def test_variable_names_as_ansible_core_judges_them() -> None:
    assert invalid_variable_name("ok_name1") == ""
    for bad in ("1x", "a-b", "None", "true", "ünï", 3, None):
        assert invalid_variable_name(bad).startswith("Invalid variable name")
    assert "of type 'int'" in invalid_variable_name(3)


LOOP_WHEN = """
- hosts: all
  gather_facts: false
  vars:
    users: [{name: a}, {name: b, unauthorized_keys: [k1]}]
  tasks:
    - name: guarded loop
      debug: {msg: "{{ item }}"}
      loop: "{{ users[0].unauthorized_keys }}"
      when: users[0].unauthorized_keys is defined
      register: guarded
    - name: unguarded loop
      debug: {msg: "{{ item }}"}
      loop: "{{ users[0].unauthorized_keys }}"
      when: users[0].name == 'a'
      ignore_errors: true
    - name: when that needs the item
      debug: {msg: "{{ item }}"}
      loop: "{{ users[0].unauthorized_keys }}"
      when: item != 'x'
      ignore_errors: true
    - name: guarded include
      include_tasks: inc.yml
      loop: "{{ users[0].unauthorized_keys }}"
      when: users[0].unauthorized_keys is defined
    - name: empty loop
      debug: {msg: "{{ item }}"}
      loop: []
      register: empty
    - name: all skipped
      debug: {msg: "{{ item }}"}
      loop: [1, 2]
      when: item > 5
      register: none_ran
    - set_fact:
        seen: "{{ [guarded.skipped, guarded.skip_reason, empty.skipped_reason, empty.results,
                   none_ran.msg] }}"
    - name: unguarded include
      include_tasks: inc.yml
      loop: "{{ users[0].unauthorized_keys }}"
"""


def test_loop_error_waits_for_when(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"site.yml": LOOP_WHEN, "inc.yml": "- debug: {msg: included}\n"}
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert statuses(report, "h1") == [
        ("guarded loop", "skipped"), ("unguarded loop", "failed"), ("when that needs the item", "failed"),
        ("guarded include", "skipped"), ("empty loop", "skipped"), ("all skipped", "skipped"),
        ("set_fact", "ok"), ("unguarded include", "failed"),
    ]
    failed = [r for r in report.results if r.status == "failed"]
    assert all("unauthorized_keys" in r.msg for r in failed), [r.msg for r in failed]
    assert runtime["h1"]["seen"] == [True, "Conditional result was False", "No items in the list", [],
                                     "All items skipped"]
