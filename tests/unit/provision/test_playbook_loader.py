"""Playbook and role loading: structure, inherited keywords, free-form args, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import PlaybookError, UnknownModuleError, YamlError
from kprov.provision.playbook.loader import load_playbook
from kprov.provision.playbook.model import Block, Task
from kprov.provision.playbook.tasks import parse_free_form

from .harness import write_tree


def test_play_structure_roles_handlers_and_flushes(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "site.yml": "- hosts: web\n  become: true\n  serial: 2\n  roles: [{role: r, tags: [rt]}]\n"
            "  tasks:\n    - {name: t, debug: {msg: x}}\n",
            "roles/r/tasks/main.yml": "- {name: rt1, command: echo hi, when: a}\n",
            "roles/r/handlers/main.yml": "- {name: restart, service: {name: x, state: restarted}}\n",
            "roles/r/defaults/main.yml": "a: true\n",
        },
    )
    (play,) = load_playbook(tmp_path / "site.yml").plays
    assert play.hosts == "web" and play.serial == 2 and play.become is True
    tasks = [i for i in play.items if isinstance(i, Task) and i.action != "meta"]
    assert [t.title for t in tasks] == ["r : rt1", "t"]
    role_task = tasks[0]
    assert role_task.args == {"_raw_params": "echo hi"}
    assert role_task.tags == ["rt"] and role_task.when == ["a"]
    assert role_task.scope.role is not None and role_task.scope.role.defaults == {"a": True}
    assert [h.name for h in play.handlers] == ["restart"]
    assert [r.name for r in play.roles] == ["r"]


def test_import_inherits_block_keywords(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "site.yml": "- hosts: all\n  tasks:\n    - block:\n        - import_tasks: more.yml\n"
            "      when: x\n      become: true\n      tags: [b]\n",
            "more.yml": "- {name: m, debug: {msg: m}, when: y}\n",
        },
    )
    (play,) = load_playbook(tmp_path / "site.yml").plays
    block = next(i for i in play.items if isinstance(i, Block))
    (task,) = block.block
    assert isinstance(task, Task)
    assert task.when == ["x", "y"] and task.become is True and task.tags == ["b"]


@pytest.mark.parametrize(
    ("action", "text", "expected"),
    [
        ("copy", "src=a dest='/b c' mode=0644", {"src": "a", "dest": "/b c", "mode": "0644"}),
        ("command", "ls -l /tmp chdir=/var", {"_raw_params": "ls -l /tmp", "chdir": "/var"}),
        (
            "shell",
            "echo {{ a | default('x y') }} > /f",
            {"_raw_params": "echo {{ a | default('x y') }} > /f"},
        ),
        ("file", "path={{ d }}/x state=directory", {"path": "{{ d }}/x", "state": "directory"}),
    ],
)
def test_free_form_args(action: str, text: str, expected: dict[str, str]) -> None:
    assert parse_free_form(text, action) == expected


def test_unknown_module_names_itself_and_closest(tmp_path: Path) -> None:
    write_tree(
        tmp_path, {"site.yml": "- hosts: all\n  tasks:\n    - name: x\n      tempalte: {src: a, dest: b}\n"}
    )
    with pytest.raises(UnknownModuleError) as err:
        load_playbook(tmp_path / "site.yml")
    assert "'tempalte'" in str(err.value) and "'template'" in str(err.value)
    assert "site.yml:3" in str(err.value)


def test_bad_yaml_in_role_names_file_and_line(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "site.yml": "- hosts: all\n  roles: [r]\n",
            "roles/r/tasks/main.yml": (
                "- name: ok\n  debug: {msg: x}\n- name: bad\n  debug: {msg: [unclosed}\n"
            ),
        },
    )
    with pytest.raises(YamlError) as err:
        load_playbook(tmp_path / "site.yml")
    assert "roles/r/tasks/main.yml:4" in str(err.value)


def test_missing_role_lists_search_path(tmp_path: Path) -> None:
    write_tree(tmp_path, {"site.yml": "- hosts: all\n  roles: [nope]\n"})
    with pytest.raises(PlaybookError, match="role 'nope' not found"):
        load_playbook(tmp_path / "site.yml")


def test_two_modules_in_one_task_is_an_error(tmp_path: Path) -> None:
    write_tree(tmp_path, {"site.yml": "- hosts: all\n  tasks:\n    - {debug: {msg: a}, whenn: x}\n"})
    with pytest.raises(PlaybookError, match="more than one module-like key"):
        load_playbook(tmp_path / "site.yml")


def test_multi_line_shell_keeps_its_lines() -> None:
    script = "if true; then\n  echo 'a  b'\nfi\n"
    # the block scalar's final newline too, as ansible-core's cmd shows it
    assert parse_free_form(script, "ansible.builtin.shell") == {"_raw_params": script}
    assert parse_free_form("cd /x &&\n  make creates=/y", "shell") == {
        "_raw_params": "cd /x &&\n  make",
        "creates": "/y",
    }
