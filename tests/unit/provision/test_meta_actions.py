"""``meta`` actions as ansible-core runs them: ``when`` evaluated, effects per action."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import PlaybookError
from tests.unit.provision.harness import run_fake, statuses

MP = pytest.MonkeyPatch
NEXT_PLAY = "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: next play\n      debug: msg=y\n"


def _play(tasks: str, hosts: str = "all", serial: str = "") -> dict[str, str]:
    return {"site.yml": f"- hosts: {hosts}\n  gather_facts: false\n{serial}  tasks:\n{tasks}"}


def _names(report, host: str) -> list[str]:
    return [t for t, _ in statuses(report, host)]


def test_end_host_under_false_when_does_not_end_the_host(tmp_path: Path, monkeypatch: MP) -> None:
    tasks = ("    - meta: end_host\n      when: false\n"
             "    - name: after\n      debug: msg=x\n")
    report, _ = run_fake(tmp_path, monkeypatch, _play(tasks), ["a"])
    assert _names(report, "a") == ["after"]
    assert report.ok


def test_end_host_ends_only_the_hosts_whose_when_holds(tmp_path: Path, monkeypatch: MP) -> None:
    tasks = ("    - meta: end_host\n      when: inventory_hostname == 'b'\n"
             "    - name: after\n      debug: msg=x\n")
    report, _ = run_fake(tmp_path, monkeypatch, _play(tasks), ["a", "b"])
    assert _names(report, "a") == ["after"]
    assert _names(report, "b") == []


def test_meta_is_not_counted_in_the_recap(tmp_path: Path, monkeypatch: MP) -> None:
    tasks = "    - meta: flush_handlers\n      when: false\n    - meta: noop\n"
    report, _ = run_fake(tmp_path, monkeypatch, _play(tasks), ["a"])
    assert report.results == []


def test_end_play_evaluates_when_on_the_first_host_for_all(tmp_path: Path, monkeypatch: MP) -> None:
    # the linear strategy runs end_play once, for the first host: false there, the play goes on
    tasks = ("    - meta: end_play\n      when: inventory_hostname == 'b'\n"
             "    - name: after\n      debug: msg=x\n")
    report, _ = run_fake(tmp_path, monkeypatch, _play(tasks), ["a", "b"])
    assert _names(report, "a") == ["after"] and _names(report, "b") == ["after"]


def test_end_play_true_ends_every_host_and_later_batches(tmp_path: Path, monkeypatch: MP) -> None:
    files = _play("    - meta: end_play\n      when: true\n    - name: after\n      debug: msg=x\n",
                  serial="  serial: 1\n")
    files["site.yml"] += NEXT_PLAY
    report, _ = run_fake(tmp_path, monkeypatch, files, ["a", "b"])
    assert _names(report, "a") == ["next play"] and _names(report, "b") == ["next play"]
    assert report.ok


def test_end_batch_ends_the_batch_and_the_next_one_starts(tmp_path: Path, monkeypatch: MP) -> None:
    tasks = ("    - name: before\n      debug: msg=x\n"
             "    - meta: end_batch\n      when: inventory_hostname == 'a'\n"
             "    - name: after\n      debug: msg=x\n")
    report, _ = run_fake(tmp_path, monkeypatch, _play(tasks, serial="  serial: 1\n"), ["a", "b"])
    assert _names(report, "a") == ["before"]
    assert _names(report, "b") == ["before", "after"]


def test_a_host_end_host_ended_leaves_the_plays_host_lists(tmp_path: Path, monkeypatch: MP) -> None:
    # ansible-core: end_host puts the host in play._removed_hosts, which the magic vars leave out
    tasks = ("    - meta: end_host\n      when: inventory_hostname == 'b'\n"
             "    - set_fact: {batch: '{{ ansible_play_batch }}', hosts: '{{ ansible_play_hosts }}',"
             " old: '{{ play_hosts }}', every: '{{ ansible_play_hosts_all }}'}\n")
    report, runtime = run_fake(tmp_path, monkeypatch, _play(tasks), ["a", "b", "c"])
    assert report.ok
    assert runtime["a"]["batch"] == ["a", "c"] and runtime["a"]["hosts"] == ["a", "c"]
    assert runtime["a"]["old"] == ["a", "c"] and runtime["a"]["every"] == ["a", "b", "c"]


def test_hosts_of_an_ended_batch_leave_ansible_play_hosts(tmp_path: Path, monkeypatch: MP) -> None:
    # serial 1: b's batch sees a's ended by end_batch; play_hosts is the batch (ansible-core's alias)
    tasks = ("    - meta: end_batch\n      when: inventory_hostname == 'a'\n"
             "    - set_fact: {hosts: '{{ ansible_play_hosts }}', old: '{{ play_hosts }}'}\n")
    report, runtime = run_fake(tmp_path, monkeypatch, _play(tasks, serial="  serial: 1\n"), ["a", "b"])
    assert runtime["b"]["hosts"] == ["b"] and runtime["b"]["old"] == ["b"]
    assert "hosts" not in runtime["a"]


def test_end_role_skips_the_rest_of_the_role_only(tmp_path: Path, monkeypatch: MP) -> None:
    files = {
        "roles/r/tasks/main.yml": ("- name: first\n  debug: msg=1\n"
                                   "- meta: end_role\n  when: stop | default(false)\n"
                                   "- name: second\n  debug: msg=2\n"
                                   "- block:\n    - name: in block\n      debug: msg=3\n"),
        "site.yml": ("- hosts: all\n  gather_facts: false\n  roles:\n"
                     "    - role: r\n      vars: {stop: true}\n    - role: r\n      vars: {stop: false}\n"
                     "  tasks:\n    - name: play task\n      debug: msg=4\n"),
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["a"])
    assert _names(report, "a") == ["r : first", "r : first", "r : second", "r : in block", "play task"]


def test_end_role_outside_a_role_is_refused_at_load(tmp_path: Path, monkeypatch: MP) -> None:
    with pytest.raises(PlaybookError, match="Cannot execute 'end_role' from outside of a role"):
        run_fake(tmp_path, monkeypatch, _play("    - meta: end_role\n"), ["a"])


def test_flush_handlers_under_false_when_runs_no_handler(tmp_path: Path, monkeypatch: MP) -> None:
    files = _play("    - name: change\n      debug: msg=c\n      changed_when: true\n      notify: h\n"
                  "    - meta: flush_handlers\n      when: false\n    - name: after\n      debug: msg=x\n")
    files["site.yml"] += "  handlers:\n    - name: h\n      debug: msg=h\n"
    report, _ = run_fake(tmp_path, monkeypatch, files, ["a"])
    assert _names(report, "a") == ["change", "after", "h"]


@pytest.mark.parametrize("clear", [True, False])
def test_clear_host_errors_revives_failed_hosts_for_later_plays(
    tmp_path: Path, monkeypatch: MP, clear: bool
) -> None:
    # the host that failed is out of the play, yet the play's pattern names it: cleared all the same
    files = {"site.yml": (
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - fail: msg=boom\n      when: inventory_hostname == 'b'\n"
        "    - meta: clear_host_errors\n      when: clear\n" + NEXT_PLAY)}
    report, _ = run_fake(tmp_path, monkeypatch, files, ["a", "b"], extra_vars={"clear": clear})
    assert "next play" in _names(report, "a")
    assert ("next play" in _names(report, "b")) is clear


def test_unknown_meta_action_fails_with_ansibles_words(tmp_path: Path, monkeypatch: MP) -> None:
    report, _ = run_fake(tmp_path, monkeypatch, _play("    - meta: bogus\n    - debug: msg=x\n"), ["a"])
    assert not report.ok
    assert [(r.status, r.msg.split(": ", 1)[-1]) for r in report.results] == [
        ("failed", "invalid meta action requested: bogus")]


def test_task_names_are_templated_in_results(tmp_path: Path, monkeypatch: MP) -> None:
    files = {
        "roles/r/tasks/main.yml": ("- name: \"install {{ pkg }} on {{ inventory_hostname }}\"\n"
                                   "  debug: msg=x\n"),
        "site.yml": ("- hosts: all\n  gather_facts: false\n  vars: {pkg: nginx}\n  roles: [r]\n  tasks:\n"
                     "    - name: \"{{ undefined_thing }} stays\"\n      debug: msg=x\n"),
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["a"])
    assert _names(report, "a") == ["r : install nginx on a", "{{ undefined_thing }} stays"]
