"""Which handlers a notification runs and in what order, as ansible-core's (the handlers target:
test_handlers_listen.yml, order.yml, handler_notify_earlier_handler.yml,
test_handlers_inexistent_notify.yml, test_templating_in_handlers.yml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import run_fake, statuses

_MIXED = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: t, debug: {msg: x}, changed_when: true, notify: notify_listen}
  handlers:
    - {name: notify_listen, debug: {msg: first of the name}}
    - {name: notify_listen, debug: {msg: second of the name}}
    - {name: listener a, debug: {msg: a}, listen: notify_listen}
    - {name: listener b, debug: {msg: b}, listen: notify_listen}
    - {name: not notified, debug: {msg: no}, listen: other}
"""


def _messages(report, host: str = "h1") -> list[str]:
    return [r.msg for r in report.results if r.host == host and r.handler]


def test_a_name_runs_the_first_handler_of_that_name_and_every_listener(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": _MIXED}, ["h1"])
    assert report.ok and _messages(report) == ["first of the name", "a", "b"]


def test_handlers_run_in_the_order_they_are_defined_not_notified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {set_fact: {foo: ''}, changed_when: true, notify: [handler3, handler1, handler2]}
  handlers:
    - {name: handler1, set_fact: {foo: "{{ foo ~ 1 }}"}}
    - {name: handler2, set_fact: {foo: "{{ foo ~ 2 }}"}}
    - {name: handler3, set_fact: {foo: "{{ foo ~ 3 }}"}}
"""
    report, runtime = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"])
    assert report.ok and runtime["h1"]["foo"] == "123"


def test_a_handler_notifying_an_earlier_one_runs_it_at_the_next_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: t, debug: {msg: x}, changed_when: true, notify: h2}
    - meta: flush_handlers
    - {name: between, debug: {msg: between}}
  handlers:
    - {name: h1, debug: {msg: h1_ran}}
    - {name: h2, debug: {msg: h2_ran}, changed_when: true, notify: h1}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"])
    assert [t for t, _ in statuses(report, "h1")] == ["t", "h2", "between", "h1"]


def test_a_roles_listeners_answer_the_role_prefixed_topic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "site.yml": ("- hosts: all\n  gather_facts: false\n  roles: [r1, ns.col.r2]\n  tasks:\n"
                     "    - {debug: {msg: x}, changed_when: true,\n"
                     "       notify: ['r1 : topic', 'ns.col.r2 : topic2']}\n"),
        "roles/r1/handlers/main.yml": "- {name: in r1, debug: {msg: r1 heard}, listen: topic}\n",
        "collections/ansible_collections/ns/col/roles/r2/handlers/main.yml":
            "- {name: in r2, debug: {msg: r2 heard}, listen: topic2}\n",
    }
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", str(tmp_path / "collections"))
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert report.ok and _messages(report) == ["r1 heard", "r2 heard"]


def test_a_notification_naming_no_handler_ends_the_run_with_ansibles_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {name: t, debug: {msg: x}, changed_when: true, notify: nowhere}
    - {name: after, debug: {msg: y}}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"])
    assert not report.ok and "after" not in [t for t, _ in statuses(report, "h1")]
    assert report.errors == ["The requested handler 'nowhere' was not found in either the main handlers list "
                             "nor in the listening handlers list"]
    monkeypatch.setenv("ANSIBLE_ERROR_ON_MISSING_HANDLER", "false")  # a warning then
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"])
    assert report.ok and [t for t, _ in statuses(report, "h1")] == ["t", "after"]


def test_templated_names_and_a_notify_list_listen_is_not_templated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = """
- hosts: all
  gather_facts: false
  vars: {handler2: name2, handler4: name4, handler_list: [name5, name6]}
  tasks:
    - {command: echo, changed_when: true, notify: ["{{ handler2 }}", "{{ handler_list }}"]}
  handlers:
    - {name: "{{ handler2 }}", set_fact: {templated_name: true}}
    - {name: "with {{ undefined_here }}", set_fact: {unusable: true}}
    - {name: name5, set_fact: {handler5: true}}
    - {set_fact: {handler6: true}, listen: name6}
    - {name: l4, set_fact: {templated_listener: true}, listen: "{{ handler4 }}"}
"""
    from kprov.provision.connect.fake import FakeConnector

    fakes = {"h1": FakeConnector(host="h1").on("echo")}
    report, runtime = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"], fakes)
    assert report.ok
    assert {"templated_name", "handler5", "handler6"} <= set(runtime["h1"])
    assert "unusable" not in runtime["h1"] and "templated_listener" not in runtime["h1"]


def test_an_unusable_handler_name_is_a_warning_on_ansibles_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """58841.yml greps the warning; the handler after it still answers its name."""
    from kprov.provision.execute.callback_default import AnsibleConsole

    lines: list[str] = []
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {debug: {msg: x}, changed_when: true, notify: handler name}
  handlers:
    - {name: "handler name with {{ test_var }}", debug: {msg: with var}}
    - {name: handler name, debug: {msg: handler ran}}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"],
                         observer=AnsibleConsole(lines.append, 0))
    assert report.ok and _messages(report) == ["handler ran"]
    assert any(line.startswith("[WARNING]: Handler 'handler name with {{ test_var }}' is unusable")
               for line in lines)


@pytest.mark.parametrize(("handler", "words"), [
    ("{name: h, include_role: {name: r}}", "Using 'include_role' as a handler is not supported."),
    ("{name: h, meta: flush_handlers}", "flush_handlers cannot be used as a handler"),
    ("{name: h, block: [{debug: {}}, {block: [{debug: {}}]}]}",
     "Using a block as a handler is not supported."),
])
def test_what_ansible_refuses_as_a_handler_is_refused_at_load(
    tmp_path: Path, handler: str, words: str
) -> None:
    from kprov.provision.errors import PlaybookError
    from kprov.provision.playbook.loader import PlaybookLoader

    (tmp_path / "site.yml").write_text(f"- hosts: all\n  tasks: []\n  handlers:\n    - {handler}\n")
    with pytest.raises(PlaybookError, match=words.replace(".", r"\.")):
        PlaybookLoader(tmp_path, known_modules=None).load(tmp_path / "site.yml")
    (tmp_path / "site.yml").write_text("- hosts: all\n  tasks: []\n  handlers:\n    - block: [{debug: {}}]\n")
    assert PlaybookLoader(tmp_path, known_modules=None).load(tmp_path / "site.yml").plays  # top-level: a list


def test_a_handlers_include_loads_handlers_refusing_a_nested_block_for_the_whole_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """test_block_as_handler-include.yml: the included file is loaded as handlers (a top-level
    block is a list of them; a nested one is ansible-core's parser error, ending the run);
    what it loads runs under RUNNING HANDLER banners."""
    from kprov.provision.execute.callback_default import AnsibleConsole

    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {debug: {msg: x}, changed_when: true, notify: handler}
    - {name: after, debug: {msg: after}}
  handlers:
    - {name: handler, include_tasks: handlers.yml}
"""
    flat = "- block:\n    - {name: in block, debug: {msg: flat ran}}\n"
    lines: list[str] = []
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site, "handlers.yml": flat}, ["h1"],
                         observer=AnsibleConsole(lines.append, 0))
    assert report.ok and "flat ran" in _messages(report)
    assert any(x.startswith("RUNNING HANDLER [in block]") for x in lines)
    nested = "- block:\n    - {debug: {msg: a}}\n    - block:\n        - {debug: {msg: nested ran}}\n"
    lines.clear()
    report, _ = run_fake(tmp_path / "nested", monkeypatch, {"site.yml": site, "handlers.yml": nested}, ["h1"],
                         observer=AnsibleConsole(lines.append, 0))
    console = AnsibleConsole(lines.append, 0)
    console.recap(report)
    assert "ERROR! Using a block as a handler is not supported." in lines  # the line the script greps
    assert not report.ok and "nested ran" not in _messages(report)
    assert any("Using a block as a handler is not supported." in e for e in report.errors)
    assert report.stats["h1"].failed == 0  # the run's error, not the host's failure


def test_a_run_once_handler_runs_once_for_the_hosts_that_flush_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """test_run_once.yml: one result (the first host's), one run."""
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {debug: {msg: x}, changed_when: true, notify: handler}
  handlers:
    - {name: handler, run_once: true, debug: {msg: handler ran once}}
"""
    hosts = ["h1", "h2", "h3"]
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, hosts)
    assert [(r.host, r.msg) for r in report.results if r.handler] == [("h1", "handler ran once")]
    assert [report.stats[h].ok for h in hosts] == [2, 1, 1]


def test_a_templated_run_once_is_rendered_for_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """test_handlers_template_run_once.yml: ``run_once: "{{ testvar | default(False) }}"`` is false."""
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - {debug: {msg: x}, changed_when: true, notify: handler}
    - {name: task, debug: {msg: "task {{ inventory_hostname }}"}, run_once: "{{ testvar | default(False) }}"}
  handlers:
    - name: handler
      debug: {msg: "handler {{ inventory_hostname }}"}
      run_once: "{{ testvar | default(False) }}"
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1", "h2"])
    assert sorted(_messages(report, "h1") + _messages(report, "h2")) == ["handler h1", "handler h2"]
    assert sorted(r.msg for r in report.results if r.task == "task") == ["task h1", "task h2"]
    report, _ = run_fake(tmp_path / "once", monkeypatch, {"site.yml": site}, ["h1", "h2"],
                         extra_vars={"testvar": True})
    assert [r.msg for r in report.results if r.task == "task"] == ["task h1"]


def test_a_handler_failure_a_rescue_catches_stays_failed_in_the_recap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """test_flush_handlers_rescue_always.yml: the rescue runs, but ansible-core counts the
    handler's failure (failed=1, rescued=0), unlike a task's."""
    site = """
- hosts: all
  gather_facts: false
  tasks:
    - block:
        - {debug: {msg: x}, changed_when: true, notify: sometimes_fail}
        - meta: flush_handlers
      rescue:
        - {name: rescue, debug: {msg: rescue ran}}
    - {name: after, debug: {msg: after}}
  handlers:
    - {name: sometimes_fail, fail: {}, when: inventory_hostname == 'h1'}
"""
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1", "h2"])
    assert [r.host for r in report.results if r.task == "rescue"] == ["h1"]
    assert sorted(r.host for r in report.results if r.task == "after") == ["h1", "h2"]
    assert (report.stats["h1"].failed, report.stats["h1"].rescued) == (1, 0)
    # nested_flush_handlers_failure_force.yml: under force_handlers ansible-core counts it rescued
    forced = site.replace("gather_facts: false", "gather_facts: false\n  force_handlers: true")
    report, _ = run_fake(tmp_path / "force", monkeypatch, {"site.yml": forced}, ["h1", "h2"])
    assert (report.stats["h1"].failed, report.stats["h1"].rescued) == (0, 1)


def test_an_error_ansible_raises_prints_no_recap_and_a_listed_play_is_named_by_its_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kprov.provision.execute.callback_default import AnsibleConsole

    site = """
- hosts: [h1, h2]
  gather_facts: false
  tasks:
    - {debug: {msg: x}, changed_when: true, notify: nowhere}
"""
    lines: list[str] = []
    console = AnsibleConsole(lines.append, 0)
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1", "h2"], observer=console)
    console.recap(report)
    assert any(x.startswith("PLAY [h1,h2] *") for x in lines)
    assert not any(x.startswith("PLAY RECAP") for x in lines)
    assert any(x.startswith("ERROR! The requested handler 'nowhere' was not found") for x in lines)
