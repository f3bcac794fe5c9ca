"""A static ``import_role`` in a play's tasks joins the play as a ``roles:`` entry does
(ansible-core's IncludeRole.get_block_list adds the role and its handlers to the play): its
handlers answer notifications (handlers target, 82241.yml), a handler's include finds its file
in the role's tasks/, and its vars and defaults are seen by the rest of the play
(include_import target)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import run_fake

_FILES = {
    "roles/r/tasks/entry.yml": "- {debug: {msg: x}, changed_when: true, notify: handler}\n",
    "roles/r/tasks/included.yml": "- {debug: {msg: included_task_from_tasks_dir}}\n",
    "roles/r/handlers/main.yml": "- {name: handler, include_tasks: included.yml}\n",
    "roles/r/defaults/main.yml": "role_default: from the role\n",
    "site.yml": """
- hosts: all
  gather_facts: false
  tasks:
    - import_role: {name: r, tasks_from: entry.yml}
    - {name: after, debug: {msg: "{{ role_default }}"}}
""",
}


def test_an_imported_roles_handlers_and_defaults_belong_to_the_play(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, _ = run_fake(tmp_path, monkeypatch, _FILES, ["h1"])
    assert report.ok, report.errors
    assert [r.msg for r in report.results if r.handler and r.msg] == ["included_task_from_tasks_dir"]
    assert [r.msg for r in report.results if r.task == "after"] == ["from the role"]
