"""What ansible-core's ``loops`` target showed (round 6b): the ``file`` lookup's strip options,
and a registered ``results`` that is not a loop's list."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.execute.task.report import inject_facts, loop_results
from kprov.provision.templates import TemplateEngine

from .harness import run_fake


def _lookup(tmp_path: Path, text: str, call: str) -> object:
    f = tmp_path / "data.txt"
    f.write_text(text)
    scope = TemplateEngine().scope([({"path": str(f)}, False)])
    return scope.render("{{ " + call + " }}", "task")


def test_file_lookup_strips_trailing_whitespace_of_any_kind(tmp_path: Path) -> None:
    assert _lookup(tmp_path, "  Hello World \t\n\n", "lookup('file', path)") == "  Hello World"


def test_file_lookup_lstrip_strips_the_start(tmp_path: Path) -> None:
    assert _lookup(tmp_path, "    Hello World\n", "q('file', path, lstrip=True)[0]") == "Hello World"


def test_file_lookup_rstrip_false_keeps_the_end(tmp_path: Path) -> None:
    assert _lookup(tmp_path, "x \n", "lookup('file', path, rstrip=False)") == "x \n"


def test_loop_results_only_from_a_list() -> None:
    """``debug: var=results`` registers {'results': <the variable>}: not a loop's items."""
    assert loop_results({"results": {"results": [{"changed": True}]}}) == []
    assert loop_results({"results": "results"}) == []
    assert loop_results({"results": [{"changed": True}, "x"]}) == [{"changed": True}]


def test_inject_facts_ignores_a_results_mapping() -> None:
    class Host:
        facts: dict[str, object] = {}
        injected_facts: dict[str, object] = {}
        facts_changes = 0

    host = Host()
    inject_facts({"results": {"ansible_facts": {"x": 1}}}, host)  # type: ignore[arg-type]
    assert host.facts_changes == 0


def test_an_included_loop_passes_index_var_and_a_templated_loop_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "site.yml": ("- hosts: all\n  gather_facts: false\n  tasks:\n"
                     "    - include_tasks: inc.yml\n      loop: [a, b]\n"
                     "      loop_control: {index_var: idx, loop_var: '{{ lv }}'}\n"
                     "      vars: {lv: thing}\n"),
        "inc.yml": "- set_fact: {seen: \"{{ seen | default([]) + [thing ~ idx] }}\"}\n",
    }
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert report.ok, [r.msg for r in report.results if r.status == "failed"]
    assert runtime["h1"]["seen"] == ["a0", "b1"]


def test_with_dict_and_with_list_of_the_wrong_type_fail_the_task_with_ansibles_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "site.yml": ("- hosts: all\n  gather_facts: false\n  tasks:\n"
                     "    - debug: {msg: '{{ item }}'}\n      with_dict: [1, 2]\n      ignore_errors: true\n"
                     "    - debug: {msg: '{{ item }}'}\n      with_list: {k: v}\n      ignore_errors: true\n"
                     "    - debug: {msg: '{{ item }}'}\n      with_list: [x]\n"),
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert report.ok
    assert [(r.status, r.msg) for r in report.results][:2] == [
        ("failed", "with_dict expects a dict"), ("failed", "with_list expects a list")]
    assert report.results[2].status == "ok"


def test_a_loop_label_sees_the_items_own_registered_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ansible-core templates ``loop_control.label`` after each item, with the item's result
    under the ``register`` name; an undefined there fails that item (issue 83619)."""
    files = {
        "site.yml": ("- hosts: all\n  gather_facts: false\n  tasks:\n"
                     "    - debug: {msg: '{{ item }}'}\n      loop: [a, b]\n      register: r\n"
                     "      loop_control: {label: '{{ r.msg }}'}\n      when: item == 'a'\n"
                     "      ignore_errors: true\n"),
    }
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["h1"])
    first, second = runtime["h1"]["r"]["results"]
    assert first["_ansible_item_label"] == "a" and not first.get("failed")
    assert second["failed"] and "Failed to template loop_control.label" in second["msg"]
    assert "msg" in second["msg"]  # names what was missing
    assert report.results[0].status == "failed" and report.results[0].ignored
