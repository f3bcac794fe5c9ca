"""Role layout as ansible-core reads it: vars folders, role-relative includes and lookups."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.roles.loader import RoleFinder, role_vars_files
from tests.unit.provision.harness import run_fake, statuses, write_tree

MP = pytest.MonkeyPatch
PLAY = "- hosts: all\n  gather_facts: false\n  roles: [r]\n"


def test_defaults_folder_files_merge_in_name_order(tmp_path: Path) -> None:
    write_tree(tmp_path, {
        "roles/r/defaults/main/10-base.yml": "a: 1\nb: 1\nnested: {x: 1}\n",
        "roles/r/defaults/main/20-more.yaml": "b: 2\nnested: {y: 2}\n",
        "roles/r/defaults/main/sub/30.json": '{"c": 3}',
        "roles/r/defaults/main/.hidden.yml": "a: hidden\n",
        "roles/r/defaults/main/40.yml~": "a: backup\n",
        "roles/r/defaults/main/50.txt": "a: text\n",
        "roles/r/vars/main.yml": "v: 1\n",
        "roles/r/tasks/main.yml": "[]\n",
    })
    role = RoleFinder(tmp_path).find("r", "test")
    # a later file's top-level key replaces the earlier one (hash_behaviour=replace)
    assert role.defaults == {"a": 1, "b": 2, "nested": {"y": 2}, "c": 3}
    assert role.vars == {"v": 1}


def test_main_file_wins_over_main_folder(tmp_path: Path) -> None:
    write_tree(tmp_path, {"roles/r/vars/main.yml": "a: file\n", "roles/r/vars/main/x.yml": "a: dir\n"})
    assert [p.name for p in role_vars_files(tmp_path / "roles/r", "vars")] == ["main.yml"]


def test_include_tasks_with_tasks_prefix_from_a_role(tmp_path: Path, monkeypatch: MP) -> None:
    files = {
        "roles/r/tasks/main.yml": "- include_tasks: tasks/set_vars.yml\n- import_tasks: sub/inner.yml\n",
        "roles/r/tasks/set_vars.yml": "- name: included\n  debug: msg=x\n",
        "roles/r/tasks/sub/inner.yml": "- include_tasks: sibling.yml\n",
        "roles/r/tasks/sub/sibling.yml": "- name: sibling\n  debug: msg=x\n",
        "site.yml": PLAY,
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["a"])
    assert [t for t, s in statuses(report, "a") if s == "ok"] == [
        "r : include_tasks", "r : included", "r : include_tasks", "r : sibling"]


def test_first_found_searches_the_roles_tasks_folder(tmp_path: Path, monkeypatch: MP) -> None:
    files = {
        "roles/r/tasks/main.yml": (
            "- include_tasks: \"{{ lookup('first_found', params) }}\"\n"
            "  vars:\n    params:\n      files: ['{{ ansible_system }}.yml', default.yml]\n"),
        "roles/r/tasks/default.yml": "- name: from default\n  debug: msg=x\n",
        "site.yml": PLAY.replace("  roles: [r]\n", "  vars: {ansible_system: Plan9}\n  roles: [r]\n"),
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["a"])
    assert ("r : from default", "ok") in statuses(report, "a")


def test_role_handlers_import_from_the_handlers_folder(tmp_path: Path, monkeypatch: MP) -> None:
    files = {
        "roles/r/tasks/main.yml": "- name: change\n  debug: msg=x\n  changed_when: true\n  notify: restart\n",
        "roles/r/handlers/main.yml": "- import_tasks: restart.yml\n",
        "roles/r/handlers/restart.yml": "- name: restart\n  debug: msg=restarted\n",
        "site.yml": PLAY,
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["a"])
    assert ("r : restart", "ok") in statuses(report, "a")


@pytest.mark.parametrize(("skip", "ran"), [(False, True), (True, False)])
def test_a_handler_that_includes_tasks_runs_them_under_its_when(tmp_path: Path, monkeypatch: MP,
                                                                skip: bool, ran: bool) -> None:
    """ansible-core's setup_remote_tmp_dir cleans up with an ``include_tasks`` handler."""
    files = {
        "roles/r/tasks/main.yml": "- name: change\n  debug: msg=x\n  changed_when: true\n  notify: clean\n",
        "roles/r/tasks/cleanup.yml": "- name: cleaning\n  debug: msg=x\n",
        "roles/r/handlers/main.yml": "- name: clean\n  include_tasks: cleanup.yml\n  when: not skip_it\n",
        "site.yml": PLAY.replace("  roles: [r]\n",
                                 f"  vars: {{skip_it: {str(skip).lower()}}}\n  roles: [r]\n"),
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["a"])
    assert report.ok, report.results
    assert (("r : cleaning", "ok") in statuses(report, "a")) is ran
    assert ("r : clean", "skipped" if skip else "ok") in statuses(report, "a")
