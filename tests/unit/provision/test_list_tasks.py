"""--list-tasks / --list-tags and templated or comma separated tags (ansible-core's tags
target, round 6b)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.execute import RunOptions
from kprov.provision.execute.tags import expand_tags
from kprov.provision.pipelines import list_playbook
from kprov.provision.playbook.tasks import tag_list

from .harness import run_fake

_PLAYBOOK = """\
- name: p
  hosts: all
  gather_facts: false
  vars: {the_tags: [tag3]}
  tasks:
    - {name: T_tag, debug: {msg: x}, tags: tag}
    - {name: T_always, debug: {msg: x}, tags: always}
    - {name: T_csv, debug: {msg: x}, tags: 'tag1,tag2'}
    - {name: T_templated, debug: {msg: x}, tags: '{{ the_tags }}'}
    - {name: T_never, debug: {msg: x}, tags: [never, donever]}
    - block:
        - {name: T_in_block, debug: {msg: x}}
      tags: blk
"""


def _listing(tmp_path: Path, **options: object) -> list[str]:
    (tmp_path / "site.yml").write_text(_PLAYBOOK)
    lines = list_playbook(tmp_path / "site.yml", "site.yml", RunOptions(**options))  # type: ignore[arg-type]
    return [line.strip() for line in lines if line.startswith("      ")]


def test_list_tasks_lists_every_selected_task_with_its_tags(tmp_path: Path) -> None:
    assert _listing(tmp_path) == ["T_tag\tTAGS: [tag]", "T_always\tTAGS: [always]",
                                  "T_csv\tTAGS: [tag1, tag2]", "T_templated\tTAGS: [tag3]",
                                  "T_in_block\tTAGS: [blk]"]


def test_list_tasks_applies_tags_and_skip_tags(tmp_path: Path) -> None:
    assert _listing(tmp_path, tags=frozenset({"tag3"})) == ["T_always\tTAGS: [always]",
                                                            "T_templated\tTAGS: [tag3]"]
    assert _listing(tmp_path, tags=frozenset({"donever"}))[-1] == "T_never\tTAGS: [donever, never]"
    assert "T_csv\tTAGS: [tag1, tag2]" not in _listing(tmp_path, skip_tags=frozenset({"tag2"}))


def test_tags_split_on_commas_and_templates_expand() -> None:
    assert tag_list("tag1, tag2") == ["tag1", "tag2"] and tag_list(["a", 1]) == ["a", "1"]
    assert expand_tags(["{{ t }}", "x"], lambda _: ["b", "a"]) == ["a", "b", "x"]


def test_a_run_selects_by_templated_tags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"site.yml": ("- hosts: all\n  gather_facts: false\n  vars: {t: [three]}\n  tasks:\n"
                          "    - {set_fact: {a: 1}, tags: '{{ t }}'}\n"
                          "    - {set_fact: {b: 1}, tags: other}\n")}
    _, runtime = run_fake(tmp_path, monkeypatch, files, ["h1"], tags=frozenset({"three"}))
    assert runtime["h1"].get("a") == 1 and "b" not in runtime["h1"]


@pytest.mark.parametrize(("tags", "expected"), [(frozenset(), ["all"]), (frozenset({"b", "a"}), ["a", "b"])])
def test_ansible_run_tags_names_the_selection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              tags: frozenset[str], expected: list[str]) -> None:
    files = {"site.yml": ("- hosts: all\n  gather_facts: false\n  tasks:\n"
                          "    - {set_fact: {run: '{{ ansible_run_tags }}', skip: '{{ ansible_skip_tags }}'},"
                          " tags: always}\n")}
    _, runtime = run_fake(tmp_path, monkeypatch, files, ["h1"], tags=tags, skip_tags=frozenset({"z"}))
    assert runtime["h1"]["run"] == expected and runtime["h1"]["skip"] == ["z"]
