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


# -- includes: followed where the run's inputs decide them, left to the run where it does ----

def _with_included(tmp_path: Path, main: str, files: dict[str, str]) -> tuple[Path, Path, Path]:
    inventory, site, marker = _playbook(tmp_path, main)
    for name, text in files.items():
        (tmp_path / "roles" / "late" / "tasks" / name).write_text(f"---\n{text}")
    return inventory, site, marker


@pytest.mark.parametrize("main", [
    "- include_tasks: part.yml\n",  # a literal name
    "- include_tasks: '{{ part_name }}.yml'\n  vars: {part_name: part}\n",  # templated from vars
    "- include_tasks: '{{ item }}.yml'\n  loop: [part]\n",  # a loop the inventory decides
    "- include_role: {name: late, tasks_from: part}\n  when: known == 1\n",
])
def test_an_undefined_variable_inside_a_resolvable_include_is_named_with_its_file_and_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, main: str) -> None:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    part = "- debug: {msg: first}\n- copy: {content: '{{ typo_in_part }}', dest: /nonexistent/x}\n"
    inventory, site, marker = _with_included(tmp_path, main, {"part.yml": part})
    report = apply([str(inventory)], site, RunOptions(resolve_first=True))
    assert not report.ok and not marker.exists()  # nothing ran
    failed = [r for r in report.results if r.status == "failed"]
    assert failed and all(r.task == "resolve: undefined variable" for r in failed)
    assert "undefined variable 'typo_in_part'" in failed[0].msg
    assert "roles/late/tasks/part.yml:3" in failed[0].msg


@pytest.mark.parametrize(("main", "files"), [
    # the file's name is what an earlier task registers: only the run knows it
    ("- command: echo part\n  register: picked\n- include_tasks: '{{ picked.stdout }}.yml'\n",
     {"part.yml": "- debug: {msg: '{{ known }}'}\n"}),
    # a loop over a registered result
    ("- command: echo part\n  register: picked\n- include_tasks: '{{ item }}.yml'\n"
     "  loop: '{{ picked.stdout_lines }}'\n", {"part.yml": "- debug: {msg: '{{ item }}'}\n"}),
    # an included file registers what a later task of the role uses
    ("- include_tasks: part.yml\n- debug: {msg: '{{ from_part.stdout }}'}\n",
     {"part.yml": "- command: echo hi\n  register: from_part\n"}),
    # a templated include name: any file beside it may define what a later task uses
    ("- command: echo part\n  register: picked\n- include_tasks: '{{ picked.stdout }}.yml'\n"
     "- debug: {msg: '{{ made_in_part }}'}\n", {"part.yml": "- set_fact: {made_in_part: 1}\n"}),
    # an include whose when is false: what it would load is never run
    ("- include_tasks: part.yml\n  when: known == 2\n",
     {"part.yml": "- debug: {msg: '{{ typo_never_run }}'}\n"}),
])
def test_an_include_only_the_run_decides_is_not_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, main: str, files: dict[str, str]) -> None:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    inventory, site, marker = _with_included(tmp_path, main, files)
    report = apply([str(inventory)], site, RunOptions(resolve_first=True))
    assert report.ok, [r.msg for r in report.results if r.status == "failed"] + report.errors
    assert marker.exists()
