"""What ansible-core's include_import target needed (decision 0055 round 10), one semantic a
test, each run on FakeConnectors: ``ansible_delegated_vars`` for delegated tasks and the
handlers an import's ``delegate_to`` reaches; an include's own failure ignorable and
registered; ``apply``; ``public`` and ``vars_from``/``defaults_from``; a run_once include;
``allow_duplicates``; a skipped include's registered result; load-time refusals; an
import_playbook's ``when`` and tags on its Gathering Facts."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import PlaybookError
from kprov.provision.execute.callback_default import load_error_lines
from kprov.provision.execute.tags import tags_selected
from kprov.provision.playbook.loader import PlaybookLoader

from .harness import run_fake, statuses, write_tree


def _msgs(report: object, task: str) -> list[str]:
    return [str(r.result.get("msg")) for r in report.results if r.task == task]  # type: ignore[attr-defined]


def test_delegated_vars_name_the_target_seen_as_the_delegating_host(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "roles/d/tasks/main.yml": "- {debug: {msg: x}, changed_when: true, notify: check}\n",
        "roles/d/handlers/main.yml": (
            "- name: check\n  assert: {that: [ansible_delegated_vars is defined,"
            " \"ansible_delegated_vars['h2'].inventory_hostname == 'h1'\","
            " \"ansible_delegated_vars['h2'].where == 'h2 vars'\"]}\n"),
        "host_vars/h2.yml": "where: h2 vars\n",
        "site.yml": """
- hosts: h1
  gather_facts: false
  tasks:
    - name: plain
      debug: {msg: "{{ ansible_delegated_vars is defined }}"}
    - name: delegated
      debug: {msg: "{{ ansible_delegated_vars.keys() | list }}"}
      delegate_to: h2
    - import_role: {name: d}
      delegate_to: h2
""",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1", "h2"])
    assert report.ok, report.errors
    assert _msgs(report, "plain") == ["False"]
    assert _msgs(report, "delegated") == ["['h2']"]
    assert [r.status for r in report.results if r.handler] == ["ok"]


def test_an_includes_failed_when_is_its_own_ignorable_registered_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "inc.yml": "- {name: inner, debug: {msg: x}}\n",
        "site.yml": """
- hosts: all
  gather_facts: false
  tasks:
    - include_tasks: inc.yml
      ignore_errors: true
      register: r
      when: undefined_thing == 'yes'
    - {name: after, debug: {msg: "{{ r is failed }}"}}
""",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert report.ok, report.errors
    assert ("inner", "ok") not in statuses(report, "h1")
    assert [r.ignored for r in report.results if r.action == "include_tasks"] == [True]
    assert _msgs(report, "after") == ["True"]


def test_apply_is_a_block_around_what_an_include_loads(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "inc.yml": "- {name: tagged, debug: {msg: x}}\n",
        "roles/r/tasks/main.yml": "- {name: role tagged, debug: {msg: y}}\n",
        "site.yml": """
- hosts: all
  gather_facts: false
  tasks:
    - include_tasks: {file: inc.yml, apply: {tags: [foo]}}
      tags: [always]
    - include_tasks: {file: inc.yml}
      tags: [always]
    - include_role: {name: r, apply: {tags: [foo]}}
      tags: [always]
""",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"], tags=frozenset({"foo"}))
    assert report.ok, report.errors
    ran = [t for t, s in statuses(report, "h1") if s == "ok" and "tagged" in t]
    assert ran == ["tagged", "r : role tagged"]


@pytest.mark.parametrize(("task", "error"), [
    ("import_tasks: {file: x.yml, apply: {tags: [a]}}", "Invalid options for import_tasks: apply"),
    ("include_tasks: {file: x.yml, apply: [a]}", "Expected a dict for apply but got <class 'list'> instead"),
    ("include_role: {name: r, vars_from: [a.yml]}", "Expected a string for vars_from but got <class 'list'>"),
    ("ansible.builtin.include_tasks:", "No file specified for ansible.builtin.include_tasks"),
])
def test_what_ansible_refuses_in_an_includes_arguments_at_load(tmp_path: Path, task: str, error: str) -> None:
    write_tree(tmp_path, {"site.yml": f"- hosts: all\n  tasks:\n    - {task}\n", "x.yml": "[]\n"})
    with pytest.raises(PlaybookError, match=error.replace("[", r"\[").replace("(", r"\(")):
        PlaybookLoader(tmp_path, known_modules=None).load(tmp_path / "site.yml")


def test_public_include_role_and_its_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "roles/pub/tasks/main.yml": "- {debug: {msg: in}}\n",
        "roles/pub/vars/other.yml": "pub_var: from other\n",
        "roles/pub/vars/main.yml": "pub_var: from main\n",
        "roles/pub/defaults/d.yml": "pub_default: from d\n",
        "roles/priv/tasks/main.yml": "- {debug: {msg: in}}\n",
        "roles/priv/vars/main.yml": "priv_var: private\n",
        "site.yml": """
- hosts: all
  gather_facts: false
  tasks:
    - {name: before, debug: {msg: "{{ pub_var is defined }}"}}
    - include_role: {name: priv}
    - include_role: {name: pub, public: true, vars_from: other.yml, defaults_from: d}
    - {name: after, debug: {msg: "{{ pub_var }} {{ pub_default }} {{ priv_var is defined }}"}}
""",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert report.ok, report.errors
    assert _msgs(report, "before") == ["False"]
    assert _msgs(report, "after") == ["from other from d False"]


def test_a_run_once_include_runs_on_the_first_host_and_shares_run_once_facts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "once.yml": "- set_fact: {lola: wiseman}\n  run_once: true\n",
        "plain.yml": "- set_fact: {mine: set}\n",
        "site.yml": """
- hosts: all
  gather_facts: false
  tasks:
    - include_tasks: once.yml
      run_once: true
    - include_tasks: plain.yml
      run_once: true
    - {name: after, debug: {msg: "{{ lola | default('untouched') }} {{ mine | default('unset') }}"}}
""",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1", "h2"])
    assert report.ok, report.errors
    assert sorted((r.host, r.msg) for r in report.results if r.task == "after") == [
        ("h1", "wiseman set"), ("h2", "wiseman unset")]


def test_allow_duplicates_false_passes_over_a_completed_equal_role(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "roles/dup/tasks/main.yml": "- {name: inside, debug: {msg: x}}\n",
        "roles/dup/meta/main.yml": "allow_duplicates: true\n",
        "site.yml": """
- hosts: all
  gather_facts: false
  tasks:
    - include_role: {name: dup, allow_duplicates: false}
    - include_role: {name: dup}
    - include_role: {name: dup, allow_duplicates: false}
    - import_role: {name: dup, allow_duplicates: false}
    - import_role: {name: dup, allow_duplicates: false}
""",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert report.ok, report.errors
    assert [s for t, s in statuses(report, "h1") if t == "dup : inside"] == ["ok", "ok", "ok"]


def test_a_skipped_include_registers_a_skipped_result(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    files = {"site.yml": """
- hosts: all
  gather_facts: false
  tasks:
    - include_tasks: missing.yml
      loop: "{{ undefined_list }}"
      when: false
      register: r
    - {name: after, debug: {msg: "{{ r.skip_reason }} {{ r is skipped }}"}}
"""}
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert report.ok, report.errors
    assert _msgs(report, "after") == ["Conditional result was False True"]


def test_an_unresolvable_action_in_an_included_file_ends_the_run_past_a_rescue(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "bad.yml": "- wrong.wrong.wrong: {parser: error}\n",
        "site.yml": """
- hosts: all
  gather_facts: false
  tasks:
    - block:
        - include_tasks: bad.yml
      rescue:
        - {name: rescued, debug: {msg: SHOULD_NOT_EXECUTE}}
""",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert not report.ok
    assert "couldn't resolve module/action 'wrong.wrong.wrong'" in " ".join(report.errors)
    assert _msgs(report, "rescued") == []


def test_an_import_playbooks_when_and_tags_reach_its_gathering(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "p.yml": "- hosts: all\n  tasks: [{name: inner, debug: {msg: x}}]\n",
        "site.yml": "- import_playbook: p.yml\n  when: false\n- import_playbook: p.yml\n  tags: [skipme]\n",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"], facts={"h1": {"os_family": "Debian"}},
                         skip_tags=frozenset({"skipme"}))
    assert report.ok, report.errors
    assert [s for t, s in statuses(report, "h1") if t == "Gathering Facts"] == ["skipped"]


def test_tag_selection_is_evaluate_tags() -> None:
    none: frozenset[str] = frozenset()
    assert not tags_selected(["always", "skipme"], none, frozenset({"skipme"}))
    assert tags_selected(["always"], frozenset({"other"}), frozenset({"all"}))
    assert not tags_selected(["always"], none, frozenset({"all", "always"}))
    assert not tags_selected(["never"], none, none)
    assert not tags_selected([], none, frozenset({"untagged"}))
    assert tags_selected(["a"], frozenset({"tagged"}), none)


def test_a_load_error_shows_the_offending_line(tmp_path: Path) -> None:
    source = tmp_path / "tasks.yml"
    source.write_text("- name: fine\n  ping:\n\n- name: invalid include\n  include_tasks:\n")
    lines = load_error_lines(f"{source}:4: No file specified for include_tasks")
    assert lines[0] == "ERROR! No file specified for include_tasks"
    assert lines[2] == f"The error appears to be in '{source}': line 4, column 3, but may"
    assert lines[-3:] == ["", "- name: invalid include", "  ^ here"]

