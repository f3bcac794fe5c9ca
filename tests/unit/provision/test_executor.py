"""The executor against fake connectors: handlers, failures, sync points, loops, blocks, includes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kprov.provision.connect.base import CommandResult
from kprov.provision.connect.fake import FakeConnector

from .harness import run_fake, statuses

H3 = ["h1", "h2", "h3"]


def test_handlers_run_once_at_end_in_the_order_they_are_defined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: t1, debug: {msg: a}, changed_when: true, notify: [second, first]}
    - {name: t2, debug: {msg: b}, changed_when: true, notify: [first]}
    - {name: t3, debug: {msg: c}, notify: [never]}
  handlers:
    - {name: first, debug: {msg: h1}}
    - {name: second, debug: {msg: h2}}
    - {name: never, debug: {msg: no}}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"])
    assert statuses(report, "h1") == [
        ("t1", "changed"),
        ("t2", "changed"),
        ("t3", "ok"),
        ("first", "ok"),  # ansible-core's order: as defined, not as notified (execute.handler_search)
        ("second", "ok"),
    ]


def test_failing_task_stops_that_host_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: maybe fail, fail: {msg: "no good"}, when: inventory_hostname == 'h2'}
    - {name: after, debug: {msg: ok}}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, H3)
    assert statuses(report, "h2") == [("maybe fail", "failed")]
    assert statuses(report, "h1") == [("maybe fail", "skipped"), ("after", "ok")]
    assert statuses(report, "h3") == [("maybe fail", "skipped"), ("after", "ok")]
    assert report.stats["h2"].failed == 1 and not report.ok


def test_any_errors_fatal_stops_every_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = """
- hosts: all
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - {name: maybe fail, fail: {msg: x}, when: inventory_hostname == 'h2'}
    - {name: after, debug: {msg: ok}}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, H3)
    assert not [r for r in report.results if r.task == "after"]
    assert any("any_errors_fatal" in e for e in report.errors)


def test_unreachable_host_does_not_stop_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = {h: FakeConnector(host=h).on("echo hi", stdout="hi\n") for h in H3}
    fakes["h2"].unreachable = True
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: cmd, command: echo hi, register: out}
    - {name: after, debug: {msg: "{{ out.stdout }}"}}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, H3, fakes)
    assert statuses(report, "h2") == [("cmd", "unreachable")]
    assert statuses(report, "h1")[-1] == ("after", "ok")
    assert [r.msg for r in report.results if r.host == "h3" and r.task == "after"] == ["hi"]
    assert report.stats["h2"].unreachable == 1


def test_set_fact_read_through_hostvars_waits_for_slow_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow(cmd: str, stdin: bytes | None) -> CommandResult:
        time.sleep(0.3)
        return CommandResult(0, "slow\n", "")

    fakes = {
        h: FakeConnector(host=h).on("echo", slow if h == "h1" else CommandResult(0, "fast\n", "")) for h in H3
    }
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {command: echo x, register: r}
    - set_fact: {mine: "{{ r.stdout }}-{{ inventory_hostname }}"}
    - name: read others
      debug: {msg: "{{ groups['all'] | map('extract', hostvars, 'mine') | join(',') }}"}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, H3, fakes)
    msgs = {r.host: r.msg for r in report.results if r.task == "read others"}
    assert msgs == {h: "slow-h1,fast-h2,fast-h3" for h in H3}


def test_run_once_runs_on_first_host_and_shares_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakes = {h: FakeConnector(host=h).on("hostname", stdout=f"{h}\n") for h in H3}
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: once, command: hostname, register: who, run_once: true}
    - {name: show, debug: {msg: "{{ who.stdout }}"}}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, H3, fakes)
    assert [r.host for r in report.results if r.task == "once"] == ["h1"]
    assert {r.msg for r in report.results if r.task == "show"} == {"h1"}
    assert not fakes["h2"].commands and not fakes["h3"].commands


def test_serial_batches_run_one_after_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = """
- hosts: all
  gather_facts: false
  serial: 1
  tasks:
    - {name: a, debug: {msg: a}}
    - {name: b, debug: {msg: b}}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, H3)
    assert [(r.host, r.task) for r in report.results] == [(h, t) for h in H3 for t in "ab"]


def test_loops_register_until_failed_when_ignore_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = {"n": 0}

    def flaky(cmd: str, stdin: bytes | None) -> CommandResult:
        counter["n"] += 1
        return CommandResult(0, "ready\n" if counter["n"] >= 3 else "wait\n", "")

    fakes = {"h1": FakeConnector(host="h1").on("check", flaky)}
    site = """
- hosts: all
  gather_facts: false
  vars: {pkgs: [a, b, c]}
  tasks:
    - name: loop
      set_fact: {last: "{{ thing }}-{{ idx }}"}
      loop: "{{ pkgs }}"
      loop_control: {loop_var: thing, index_var: idx}
      when: thing != 'c'
      register: looped
    - name: poll
      command: check
      register: polled
      until: polled.stdout == 'ready'
      retries: 5
      delay: 0
    - {name: soft fail, debug: {msg: x}, failed_when: true, ignore_errors: true}
    - {name: items, debug: {msg: "{{ looped.results | map(attribute='skipped', default=false) | list }}"}}
    - {name: dict loop, debug: {msg: "{{ item.key }}={{ item.value }}"}, with_dict: {k: v}}
"""
    report, runtime = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"], fakes)
    assert runtime["h1"]["last"] == "b-1"
    assert runtime["h1"]["polled"]["attempts"] == 3
    res = {r.task: r for r in report.results}
    assert res["soft fail"].status == "failed" and res["soft fail"].ignored
    assert res["items"].msg == "[False, False, True]"
    assert res["dict loop"].result["results"][0]["msg"] == "k=v"
    assert report.stats["h1"].ignored == 1 and report.stats["h1"].failed == 0


def test_block_rescue_always(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - block:
        - {name: boom, fail: {msg: x}}
        - {name: not reached, debug: {msg: no}}
      rescue:
        - {name: rescue, debug: {msg: r}}
      always:
        - {name: always, debug: {msg: a}}
    - {name: after, debug: {msg: ok}}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"])
    assert [t for t, _ in statuses(report, "h1")] == ["boom", "rescue", "always", "after"]
    assert report.stats["h1"].rescued == 1 and report.ok


def test_includes_imports_and_roles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "site.yml": """
- hosts: all
  gather_facts: false
  roles: [{role: base, greeting: hi}]
  tasks:
    - include_tasks: extra.yml
      loop: [1, 2]
    - import_tasks: static.yml
      when: false
    - include_role: {name: other, tasks_from: alt}
""",
        "extra.yml": "- {name: extra, debug: {msg: 'extra {{ item }}'}}\n",
        "static.yml": "- {name: static, debug: {msg: s}}\n",
        "roles/base/defaults/main.yml": "greeting: default\nfrom_default: d\n",
        "roles/base/meta/main.yml": "dependencies: [dep]\n",
        "roles/base/tasks/main.yml": "- {name: greet, debug: {msg: '{{ greeting }} {{ from_default }}'}}\n",
        "roles/dep/tasks/main.yml": (
            "- {name: dep, debug: {msg: dep}, changed_when: true, notify: [dep handler]}\n"
        ),
        "roles/dep/handlers/main.yml": "- {name: dep handler, debug: {msg: handled}}\n",
        "roles/other/tasks/alt.yml": "- {name: alt, debug: {msg: alt}}\n",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    got = [(r.task, r.msg) for r in report.results]
    # role dependencies first; handlers flush after roles + tasks, like Ansible
    assert got == [
        ("dep : dep", "dep"),
        ("base : greet", "hi d"),
        ("include_tasks", ""),  # an include counts ok per file loaded, as Ansible's recap
        ("extra", "extra 1"),
        ("include_tasks", ""),
        ("extra", "extra 2"),
        ("static", ""),
        ("include_role", ""),
        ("other : alt", "alt"),
        ("dep : dep handler", "handled"),
    ]
    assert report.stats["h1"].ok == 9 and report.stats["h1"].skipped == 1
    assert [r.status for r in report.results if r.task == "static"] == ["skipped"]


def test_tags_and_skip_tags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: a, debug: {msg: a}, tags: [web]}
    - {name: b, debug: {msg: b}, tags: [db]}
    - {name: c, debug: {msg: c}, tags: [always]}
    - {name: d, debug: {msg: d}}
"""
    report, _ = run_fake(tmp_path / "1", monkeypatch, {"site.yml": site}, ["h1"], tags=frozenset({"web"}))
    assert [t for t, _ in statuses(report, "h1")] == ["a", "c"]
    report, _ = run_fake(
        tmp_path / "2", monkeypatch, {"site.yml": site}, ["h1"], skip_tags=frozenset({"web"})
    )
    assert [t for t, _ in statuses(report, "h1")] == ["b", "c", "d"]


def test_undefined_variable_names_task_template_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "site.yml": "- hosts: all\n  gather_facts: false\n  roles: [web]\n",
        "roles/web/tasks/main.yml": "- {name: render conf, template: {src: conf.j2, dest: /etc/conf}}\n",
        "roles/web/templates/conf.j2": "port={{ web_port }}\n",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    (result,) = report.results
    assert result.status == "failed"
    assert "render conf" in result.msg and "web_port" in result.msg and "conf.j2" in result.msg


def test_debug_var_of_an_undefined_variable_is_ok_as_in_ansible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ansible-core's debug prints "VARIABLE IS NOT DEFINED!" and carries on; it used to end
    # the host with an internal error
    site = """
- hosts: all
  gather_facts: false
  vars: {d: {a: 1}}
  tasks:
    - {name: plain, debug: {var: nope}}
    - {name: attribute, debug: {var: d.zz}}
    - {name: after, debug: {var: d.a}}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"])
    assert statuses(report, "h1") == [("plain", "ok"), ("attribute", "ok"), ("after", "ok")]
    shown = [r.result for r in report.results]
    assert shown[0]["nope"] == shown[1]["d.zz"] == "VARIABLE IS NOT DEFINED!"
    assert shown[2]["d.a"] == 1 and not report.errors


def test_debug_var_returns_the_variable_alone_as_ansible_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ansible-core's debug returns {var: value} with no msg: what `register` keeps and what
    # ansible-playbook prints (`"x": "value"`); kprov returned msg "x: 'value'" beside it
    site = """
- hosts: all
  gather_facts: false
  vars: {x: value}
  tasks:
    - {name: shown, debug: {var: x}, register: shown}
    - {name: kept, set_fact: {has_msg: "{{ shown.msg is defined }}", kept: "{{ shown.x }}"}}
"""
    report, runtime = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"])
    assert report.results[0].result == {"x": "value", "changed": False, "failed": False}
    assert runtime["h1"]["has_msg"] is False and runtime["h1"]["kept"] == "value"


def test_group_by_builds_groups_later_plays_and_patterns_see(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: by parity, group_by: {key: "{{ 'even' if inventory_hostname[-1] | int is even else 'odd' }}",
                                   parents: [numbered]}}
- hosts: odd
  gather_facts: false
  tasks:
    - {name: odd only, set_fact: {mine: "{{ groups['odd'] }}", all_numbered: "{{ groups['numbered'] }}",
                                  seen: "{{ parity_note }}"}}
"""
    files = {"site.yml": site, "group_vars/odd.yml": "parity_note: odd host\n"}
    hosts = ["h1", "h2", "h3", "h4"]
    report, registered = run_fake(tmp_path, monkeypatch, files, hosts)
    assert [s for _, s in statuses(report, "h1")] == ["changed", "ok"]
    assert [s for _, s in statuses(report, "h2")] == ["changed"]  # not odd: the second play skips it
    assert registered["h3"]["mine"] == ["h1", "h3"]
    assert registered["h3"]["all_numbered"] == hosts
    assert registered["h1"]["seen"] == "odd host"  # the new group's group_vars apply


def test_add_host_runs_once_and_a_later_play_connects_the_new_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: add, add_host: {name: "new-{{ inventory_hostname }}", groups: late, ansible_connection: local},
       register: added}
    - {name: add gone, add_host: {name: gone, groups: [late], ansible_host: 127.0.0.1, ansible_port: 1,
                                  ansible_connection: ssh, kprov_connect_retries: 0}}
- hosts: late
  gather_facts: false
  tasks:
    - {name: late, set_fact: {me: "{{ inventory_hostname }}", value: "{{ late_value }}"}}
    - {name: reach, command: "true"}
"""
    files = {"site.yml": site, "group_vars/late.yml": "late_value: from late.yml\n"}
    report, registered = run_fake(tmp_path, monkeypatch, files, ["h1", "h2"])
    # once, for the first host: the other host takes the same registered result
    assert [s for t, s in statuses(report, "h1") if t == "add"] == ["changed"]
    assert not [t for t, _ in statuses(report, "h2") if t == "add"]
    assert registered["h2"]["added"]["add_host"]["host_name"] == "new-h1"
    assert "new-h2" not in registered
    assert registered["new-h1"] == {"me": "new-h1", "value": "from late.yml"}
    gone = [r for r in report.results if r.host == "gone"]
    # as ansible-core: set_fact needs no connection, the first task that does finds it unreachable
    assert [(r.task, r.status) for r in gone] == [("late", "ok"), ("reach", "unreachable")], gone
    assert "new-h1" in report.hosts and "gone" in report.hosts


def test_limit_is_evaluated_again_for_hosts_add_host_placed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - name: add
      add_host: {name: "{{ item }}", groups: late, ansible_connection: local}
      loop: [new-in, new-out]
- hosts: late
  gather_facts: false
  tasks:
    - {name: late, set_fact: {me: "{{ inventory_hostname }}"}}
"""
    files = {"site.yml": site}
    report, registered = run_fake(tmp_path, monkeypatch, files, ["h1", "h2"], limit="all:!new-out")
    assert registered["new-in"] == {"me": "new-in"}
    assert not [r for r in report.results if r.host == "new-out"]
    assert registered.get("new-out", {}) == {}


def test_check_mode_and_diff_reach_the_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fakes = {"h1": FakeConnector(host="h1").on("echo", stdout="x\n").on("^true$")}
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: skipped in check, command: echo hi}
    - {name: forced, command: echo forced, check_mode: false}
    - {name: mode, debug: {msg: "{{ ansible_check_mode }}"}}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"], fakes, check=True, diff=True)
    res = {r.task: r for r in report.results}
    assert res["skipped in check"].status == "skipped"
    assert res["forced"].status == "changed"
    assert res["mode"].msg == "True"
    assert [c.cmd for c in fakes["h1"].commands if "forced" in c.cmd]


def test_sync_points_do_not_deadlock_with_fewer_forks_than_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - set_fact: {n: "{{ inventory_hostname }}"}
    - name: all names
      debug: {msg: "{{ groups['all'] | map('extract', hostvars, 'n') | join(',') }}"}
    - {name: once, debug: {msg: one}, run_once: true}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, H3, forks=1)
    assert {r.msg for r in report.results if r.task == "all names"} == {"h1,h2,h3"}
    assert [r.host for r in report.results if r.task == "once"] == ["h1"]


def test_throttle_limits_hosts_running_a_task_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = {"now": 0, "max": 0}

    def restart(cmd: str, stdin: bytes | None) -> CommandResult:
        running["now"] += 1
        running["max"] = max(running["max"], running["now"])
        time.sleep(0.05)
        running["now"] -= 1
        return CommandResult(0, "", "")

    fakes = {h: FakeConnector(host=h).on("restart", restart) for h in H3}
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: poke, debug: {msg: x}, changed_when: true, notify: restart it}
  handlers:
    - {name: restart it, command: restart, throttle: 1}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, H3, fakes)
    assert [r.status for r in report.results if r.task == "restart it"] == ["changed"] * 3
    assert running["max"] == 1


def test_magic_vars_group_names_and_the_live_play_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """group_names: the host's groups, sorted, without all/ungrouped (also through hostvars);
    ansible_play_hosts: the play's hosts still alive when read; _all: every one of them."""
    inventory = """
all:
  hosts:
    h3:
  children:
    web:
      hosts: {h1: {}, h2: {}}
    db:
      hosts: {h2: {}}
"""
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: h3 fails, fail: {msg: gone}, when: inventory_hostname == 'h3'}
    - name: read them
      set_fact:
        names: "{{ group_names }}"
        live: "{{ ansible_play_hosts }}"
        also_live: "{{ play_hosts }}"
        every: "{{ ansible_play_hosts_all }}"
        of_h2: "{{ hostvars['h2'].group_names }}"
"""
    files = {"site.yml": site, "hosts.yml": inventory}
    _, runtime = run_fake(tmp_path, monkeypatch, files, ["h1", "h2", "h3"])
    assert runtime["h1"]["names"] == ["web"]
    assert runtime["h2"]["names"] == ["db", "web"]
    for host in ("h1", "h2"):
        assert runtime[host]["live"] == runtime[host]["also_live"] == ["h1", "h2"]
        assert sorted(runtime[host]["every"]) == ["h1", "h2", "h3"]
        assert runtime[host]["of_h2"] == ["db", "web"]
    assert "names" not in runtime["h3"]
