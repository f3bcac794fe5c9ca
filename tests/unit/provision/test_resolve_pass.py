"""The resolve pass (execute.resolve): an undefined variable in a late task, or in a
template file, stops the run before the first task, naming the file and line that uses it;
what only the run defines (registered results, set_fact, loop variables, guarded uses,
facts) is not an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.execute import RunOptions
from kprov.provision.pipelines import apply

HOSTS = "all:\n  hosts:\n    h1: {ansible_connection: local}\n"

GOOD_USES = """
    - command: echo first
      register: out
    - debug: {msg: "{{ out.stdout }} {{ never_defined | default('x') }}"}
    - debug: {msg: "{{ maybe }}"}
      when: maybe is defined
    - set_fact: {later: 1}
    - debug: {msg: "{{ later + 1 }}"}
    - debug: {msg: "{{ item }}"}
      loop: [1, 2]
    - debug: {msg: "{{ ansible_facts.get('hostname', '') }}"}
"""


def _playbook(tmp_path: Path, late: str) -> tuple[Path, Path, Path]:
    marker = tmp_path / "first-task-ran"
    (tmp_path / "hosts.yml").write_text(HOSTS)
    role = tmp_path / "roles" / "late"
    (role / "tasks").mkdir(parents=True)
    (role / "templates").mkdir()
    (role / "templates" / "conf.j2").write_text("a = {{ known }}\nb = {{ in_template_only }}\n")
    (role / "tasks" / "main.yml").write_text(f"---\n- debug: {{msg: ok}}\n{late}")
    (tmp_path / "site.yml").write_text(f"""
- hosts: h1
  gather_facts: false
  vars: {{known: 1}}
  tasks:
    - command: touch {marker}
{GOOD_USES}
- hosts: h1
  gather_facts: false
  vars: {{known: 1}}
  roles: [late]
""")
    return tmp_path / "hosts.yml", tmp_path / "site.yml", marker


@pytest.mark.parametrize(("late", "variable", "line"), [
    ("- copy: {content: '{{ typo_var }}', dest: /nonexistent/x}\n", "typo_var", 3),
    ("- template: {src: conf.j2, dest: /nonexistent/x}\n", "in_template_only", 3),
    ("- debug: {msg: hi}\n  when: undefined_flag | bool\n", "undefined_flag", 3),
])
def test_an_undefined_variable_of_a_late_task_stops_the_run_before_any_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, late: str, variable: str, line: int) -> None:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    inventory, site, marker = _playbook(tmp_path, late)
    report = apply([str(inventory)], site, RunOptions(resolve_first=True))
    assert not report.ok and not marker.exists()  # nothing ran
    [failed] = [r for r in report.results if r.status == "failed"]
    assert failed.task == "resolve: undefined variable"
    assert f"undefined variable '{variable}'" in failed.msg
    assert f"roles/late/tasks/main.yml:{line}" in failed.msg
    assert "nothing was changed" in report.errors[0]
    # without the pass, the run changes the host first and fails late (Ansible's way)
    marker_report = apply([str(inventory)], site, RunOptions())
    assert not marker_report.ok and marker.exists()


def test_what_only_the_run_defines_is_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    inventory, site, marker = _playbook(tmp_path, "- debug: {msg: '{{ known }}'}\n")
    report = apply([str(inventory)], site, RunOptions(resolve_first=True))
    assert report.ok, [r.msg for r in report.results if r.status == "failed"] + report.errors
    assert marker.exists()


def test_an_undefined_variable_behind_another_variable_is_named(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    inventory, site, marker = _playbook(tmp_path, "- debug: {msg: '{{ vip }}'}\n")
    inventory.write_text(HOSTS + "  vars:\n    vip: '{{ lb_vip }}'\n")
    report = apply([str(inventory)], site, RunOptions(resolve_first=True))
    assert not report.ok and not marker.exists()
    [failed] = [r for r in report.results if r.status == "failed"]
    assert "undefined variable 'lb_vip'" in failed.msg and "roles/late/tasks/main.yml:3" in failed.msg
