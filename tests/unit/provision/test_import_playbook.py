"""import_playbook as ansible-core loads it: its vars (above the plays' own), tags and when
reach the imported plays; names templated at load (import_playbook, import_tasks,
import_role) with the play's, the import's and the extra vars (include_import target)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.playbook.loader import PlaybookLoader
from kprov.provision.playbook.model import Task


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_an_imported_playbook_takes_the_imports_vars_tags_and_when(tmp_path: Path) -> None:
    _write(tmp_path, {
        "site.yml": ("- import_playbook: sub.yml\n  vars: {role_name: r1, v: import}\n"
                     "  tags: t1\n  when: flag\n"),
        "sub.yml": ("- hosts: all\n  vars: {v: own, w: own}\n  tasks:\n"
                    "    - import_role: {name: '{{ role_name }}'}\n"),
        "roles/r1/tasks/main.yml": "- debug: {msg: in r1}\n",
    })
    play = PlaybookLoader(tmp_path, known_modules=None).load(tmp_path / "site.yml").plays[0]
    assert play.vars == {"v": "import", "w": "own", "role_name": "r1"}
    assert play.tags == ["t1"]
    tasks = [i for i in play.items if isinstance(i, Task) and i.action == "debug"]
    assert [t.title for t in tasks] == ["r1 : debug"]
    assert "flag" in tasks[0].when and "t1" in tasks[0].tags


def test_static_names_template_with_extra_and_import_vars(tmp_path: Path) -> None:
    _write(tmp_path, {
        "site.yml": ("- import_playbook: '{{ pb }}'\n"
                     "- import_playbook: '{{ other }}'\n  vars: {other: b.yml}\n"),
        "a.yml": ("- hosts: all\n  vars: {f: t.yml}\n  tasks:\n    - import_tasks: '{{ f }}'\n"),
        "b.yml": "- hosts: all\n  tasks:\n    - debug: {msg: b}\n",
        "t.yml": "- debug: {msg: from t}\n",
    })
    loader = PlaybookLoader(tmp_path, known_modules=None, extra_vars={"pb": "a.yml"})
    plays = loader.load(tmp_path / "site.yml").plays
    msgs = [i.args.get("msg") for p in plays for i in p.items if isinstance(i, Task) and i.action == "debug"]
    assert msgs == ["from t", "b"]


def test_a_templated_action_name_loads_and_is_resolved_only_when_run(tmp_path: Path) -> None:
    """ansible-core templates ``action: {module: "{{ x }}"}`` when the task runs, so a play
    with one under ``tags: never`` loads (include_import's test_import_role.yml)."""
    _write(tmp_path, {"site.yml": ("- hosts: all\n  tasks:\n"
                                   "    - action: {module: '{{ entire_task }}'}\n      tags: [never]\n")})
    play = PlaybookLoader(tmp_path).load(tmp_path / "site.yml").plays[0]
    assert [i.action for i in play.items if isinstance(i, Task) and "{{" in i.action] == ["{{ entire_task }}"]


def test_a_collection_role_is_found_by_its_full_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``namespace.collection.role``: under the playbook's collections/ansible_collections."""
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", str(tmp_path / "none"))
    _write(tmp_path, {
        "site.yml": "- hosts: all\n  roles: [ns.col.r]\n",
        "collections/ansible_collections/ns/col/roles/r/tasks/main.yml": "- debug: {msg: from collection}\n",
    })
    play = PlaybookLoader(tmp_path, known_modules=None).load(tmp_path / "site.yml").plays[0]
    assert [i.args.get("msg") for i in play.items if isinstance(i, Task) and i.action == "debug"] == [
        "from collection"]
