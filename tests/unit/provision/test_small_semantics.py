"""Ansible's semantics in the small: templated free-form keys, ``failed_when_result`` and a
``changed_when`` that errors, ``!unsafe`` values."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.playbook.tasks import parse_free_form
from kprov.provision.templates import TemplateEngine
from kprov.provision.yamlfile import load_yaml_text
from tests.unit.provision.harness import run_fake

MP = pytest.MonkeyPatch
PLAY = "- hosts: all\n  gather_facts: false\n  tasks:\n"


def test_free_form_with_a_templated_key() -> None:
    assert parse_free_form("{{ item }}=moo other=x", "set_fact") == {"{{ item }}": "moo", "other": "x"}
    assert parse_free_form("msg={{ a == b }}", "debug") == {"msg": "{{ a == b }}"}
    # a raw module keeps such a word in its command
    assert parse_free_form("echo {{ x }}=1", "command") == {"_raw_params": "echo {{ x }}=1"}


def test_set_fact_with_templated_free_form_keys(tmp_path: Path, monkeypatch: MP) -> None:
    files = {"site.yml": PLAY + "    - set_fact: \"{{ item }}=moo\"\n      loop: [a, b]\n"}
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["h"])
    assert report.ok and runtime["h"]["a"] == "moo" and runtime["h"]["b"] == "moo"


def test_failed_when_result_and_a_changed_when_that_errors(tmp_path: Path, monkeypatch: MP) -> None:
    files = {"site.yml": PLAY + (
        "    - debug: msg=hello\n      register: kept\n      failed_when: false\n"
        "    - debug: msg=hello\n      register: broken\n      changed_when: nope.attr\n"
        "      ignore_errors: true\n")}
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["h"])
    assert runtime["h"]["kept"]["failed_when_result"] is False
    broken = runtime["h"]["broken"]
    assert broken["failed"] is True and "nope" in broken["changed_when_result"]
    assert broken["msg"] == "hello"  # the module's own fields stay


def test_unsafe_values_are_never_templated() -> None:
    data = load_yaml_text("a: !unsafe '{{ lookup(\"pipe\", \"id\") }}'\nb: !unsafe ['{{ x }}', 1]\n", "t.yml")
    scope = TemplateEngine().scope([(data, True)])
    assert scope["a"] == '{{ lookup("pipe", "id") }}'
    assert scope.template("{{ b }}", "t") == ["{{ x }}", 1]
    assert scope.template(data["a"], "t") == '{{ lookup("pipe", "id") }}'


def test_loop_control_pause_waits_between_items(tmp_path: Path, monkeypatch: MP) -> None:
    slept: list[float] = []
    monkeypatch.setattr("kprov.provision.execute.task.runner.time.sleep", slept.append)
    files = {"site.yml": PLAY + "    - debug: msg={{ item }}\n      loop: [1, 2, 3]\n"
                                "      loop_control: {pause: 0.5}\n"}
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h"])
    assert report.ok and slept == [0.5, 0.5]  # between items, not before the first


def test_now_and_ansible_core_filters_kprov_lacks() -> None:
    scope = TemplateEngine().scope([])
    assert len(scope.template("{{ now(utc=true, fmt='%Y-%m-%d') }}", "t")) == 10
    assert scope.template("{{ now().year > 2000 }}", "t") is True
    assert scope.template("{{ 'a%20b' | urldecode }}", "t") == "a b"


def test_args_that_are_one_template_are_variable_params_except_for_raw_param_actions() -> None:
    """ansible-core's ModuleArgsParser: ``file: "{{ a_mapping }}"`` renders to the args;
    add_host, set_fact, include_vars... read their raw params themselves."""
    assert parse_free_form("{{ fargs }}", "file") == {"_variable_params": "{{ fargs }}"}
    assert parse_free_form("{{ data }}", "add_host") == {"_raw_params": "{{ data }}"}
    assert parse_free_form("{{ item }}", "include_vars") == {"_raw_params": "{{ item }}"}
    assert parse_free_form("path={{ p }}", "file") == {"path": "{{ p }}"}
    assert parse_free_form("user_{{ item.0 }}={{ item.1 }}", "set_fact") == {
        "user_{{ item.0 }}": "{{ item.1 }}"}


def test_free_form_values_decode_ansible_escapes() -> None:
    # ansible-core's parse_kv: \b is a backspace, \\b a backslash and b; \1 stays as written
    args = parse_free_form(r"""path=/f regexp='\b(.+)\b' replace='"\1"' line=a\tb""", "replace")
    assert args == {"path": "/f", "regexp": "\x08(.+)\x08", "replace": '"\\1"', "line": "a\tb"}
    assert parse_free_form(r"regexp='\\b(.+)\\b'", "replace")["regexp"] == r"\b(.+)\b"
    # a command's own words are not k=v: kept as written
    assert parse_free_form(r"printf 'a\tb' chdir=/tmp", "command")["_raw_params"] == r"printf 'a\tb'"


def test_free_form_command_lines_join_as_ansible_core_splits_them() -> None:
    # a lone backslash ends a continued line (outside quotes); newlines elsewhere, and the
    # block scalar's final one, stay in the command
    text = 'echo a \\\n"b c" "d\ne" \\\n| cat\necho f\n'
    assert parse_free_form(text, "shell") == {"_raw_params": 'echo a "b c" "d\ne" | cat\necho f\n'}
    # a backslash inside quotes is the quoted text's
    assert parse_free_form("echo 'x \\\ny'\n", "shell") == {"_raw_params": "echo 'x \\\ny'\n"}
    # a trailing option is no part of the command
    assert parse_free_form("echo hi chdir=/tmp\n", "shell") == {"_raw_params": "echo hi", "chdir": "/tmp"}


def test_debug_above_the_runs_verbosity_is_skipped(tmp_path: Path, monkeypatch: MP) -> None:
    files = {"site.yml": PLAY + (
        "    - debug: var=x verbosity=3\n      register: quiet\n"
        "    - debug: msg=hi verbosity=0\n      register: loud\n")}
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["h"])
    assert report.ok and runtime["h"]["quiet"]["skipped"] is True
    assert runtime["h"]["quiet"]["skipped_reason"] == "Verbosity threshold not met."
    assert runtime["h"]["loud"]["msg"] == "hi"


def test_a_templated_ignore_errors_is_rendered_per_host(tmp_path: Path, monkeypatch: MP) -> None:
    """``ignore_errors: "{{ ansible_check_mode }}"`` (devsec.os_hardening's auditd handler)
    ignores nothing outside check mode: the host fails and runs nothing after it."""
    play = "- hosts: all\n  gather_facts: false\n  vars: {tolerate: 'yes'}\n  tasks:\n"
    files = {"site.yml": play + (
        "    - fail: msg=kept\n      ignore_errors: \"{{ tolerate }}\"\n"
        "    - fail: msg=stops\n      ignore_errors: \"{{ ansible_check_mode }}\"\n"
        "    - set_fact: after=1\n")}
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["h"])
    statuses = [(r.task, r.status, r.ignored) for r in report.results if r.host == "h"]
    assert statuses[0][1:] == ("failed", True)
    assert statuses[1][1:] == ("failed", False)
    assert "after" not in runtime["h"] and not report.ok
