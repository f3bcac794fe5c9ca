"""Semantics ansible-core's script targets (runme.sh: var_precedence) showed kprov missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kprov.provision.errors import PlaybookError
from kprov.provision.execute import RunOptions
from kprov.provision.phases.connect import connection_vars
from kprov.provision.pipelines import open_run
from kprov.provision.playbook.loader import vars_file_mappings

from .harness import run_fake


def test_a_vars_file_may_be_a_list_of_mappings_merged_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "site.yml": ("- hosts: all\n  gather_facts: false\n  vars_files: [v.yml]\n"
                     "  tasks:\n    - set_fact: {got: '{{ a }} {{ b }}'}\n"),
        "v.yml": "- {a: 1, b: 1}\n- {b: 2}\n",
    }
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert report.ok and runtime["h1"]["got"] == "1 2"


def test_a_vars_file_of_anything_else_fails_with_ansibles_words() -> None:
    assert vars_file_mappings(None) == []
    with pytest.raises(PlaybookError, match="variable files must contain either a dictionary"):
        vars_file_mappings(["x"])


def test_a_roles_params_reach_its_dependencies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "site.yml": "- hosts: all\n  gather_facts: false\n  roles: [top]\n",
        "roles/top/meta/main.yml": "dependencies: [{role: mid, p: from_top}]\n",
        "roles/top/tasks/main.yml": "- debug: {msg: top}\n",
        "roles/mid/meta/main.yml": "dependencies: [leaf]\n",
        "roles/mid/tasks/main.yml": "- debug: {msg: mid}\n",
        "roles/leaf/tasks/main.yml": "- set_fact: {leaf_saw: '{{ p | default(\"none\") }}'}\n",
    }
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert report.ok and runtime["h1"]["leaf_saw"] == "from_top"


def test_extra_vars_override_the_inventorys_connection_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  hosts:\n    h1: {ansible_connection: ssh, ansible_port: 2222}\n")
    run = open_run([str(inventory)], RunOptions(extra_vars={"ansible_connection": "local"}),
                   playbook_dir=tmp_path)
    try:
        got = connection_vars(run, "h1")
    finally:
        run.log.close()
    assert got["ansible_connection"] == "local" and str(got["ansible_port"]) == "2222"


def test_ansible_playbook_python_is_the_controllers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"site.yml": ("- hosts: all\n  gather_facts: false\n"
                          "  tasks:\n    - set_fact: {py: '{{ ansible_playbook_python }}'}\n")}
    _, runtime = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert runtime["h1"]["py"] == sys.executable


def test_include_params_win_over_set_fact_and_role_params(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "site.yml": ("- hosts: all\n  gather_facts: false\n  tasks:\n"
                     "    - set_fact: {findme: set_fact}\n"
                     "    - include_tasks: {file: inc.yml}\n      vars: {findme: include_params}\n"),
        "inc.yml": "- set_fact: {saw: '{{ findme }}'}\n",
    }
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert report.ok and runtime["h1"]["saw"] == "include_params"


def test_include_role_handlers_from_names_the_handlers_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "site.yml": ("- hosts: all\n  gather_facts: false\n  tasks:\n"
                     "    - include_role: name=r handlers_from=alternate.yml\n"
                     "    - meta: flush_handlers\n"),
        "roles/r/tasks/main.yml": "- {debug: {msg: x}, changed_when: true, notify: h}\n",
        "roles/r/handlers/main.yml": "- {name: h, set_fact: {which: main}}\n",
        "roles/r/handlers/alternate.yml": "- {name: h, set_fact: {which: alternate}}\n",
    }
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert report.ok and runtime["h1"]["which"] == "alternate"


def test_clear_host_errors_in_always_lets_the_host_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "site.yml": """
- hosts: all
  gather_facts: false
  tasks:
    - block:
        - fail: {msg: in block}
      rescue:
        - fail: {msg: in rescue}
      always:
        - meta: clear_host_errors
    - set_fact: {went_on: true}
""",
    }
    _, runtime = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert runtime["h1"].get("went_on") is True
