"""ansible-playbook's default callback lines, as kprov's ``--output ansible`` renders them
(the lines ansible-core's runme.sh scripts grep; forms read from ansible-core's
plugins/callback/default.py and CallbackBase._dump_results)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kprov.cli import provision as provision_cli
from kprov.provision.execute.callback_default import (
    AnsibleConsole,
    banner,
    dump_result,
    load_error_lines,
    recap_lines,
    result_lines,
)
from kprov.provision.execute.results import HostStats, RunReport, TaskResult


def _result(**kw: object) -> TaskResult:
    base: dict[str, object] = {"host": "testhost", "task": "role : name", "action": "command",
                               "status": "ok"}
    return TaskResult(**{**base, **kw})  # type: ignore[arg-type]


def test_banner_pads_with_stars_to_79_columns_after_a_blank_line() -> None:
    blank, line = banner("TASK [role : name]")
    assert blank == "" and line.startswith("TASK [role : name] *") and len(line) == 79 + 1
    assert banner("X" * 100)[1].endswith(" ***")


def test_ok_and_changed_lines_show_the_result_only_when_verbose() -> None:
    assert result_lines(_result(result={"rc": 0}), 0) == ["ok: [testhost]"]
    assert result_lines(_result(status="changed", result={"changed": True}), 1) == [
        'changed: [testhost] => {"changed": true}']


def test_debug_prints_its_msg_alone_indented_at_any_verbosity() -> None:
    lines = result_lines(_result(action="debug", result={"msg": "TEST COMPLETE", "changed": False}), 0)
    assert lines == ['ok: [testhost] => {\n    "msg": "TEST COMPLETE"\n}']


def test_a_failure_is_fatal_with_its_result_and_ignoring_when_ignored() -> None:
    failed = _result(status="failed", msg="boom", result={"failed": True, "msg": "boom"}, ignored=True)
    # the callback gets TaskResult.clean_copy: ``failed``/``skipped`` are the event's, not shown
    assert result_lines(failed, 0) == [
        'fatal: [testhost]: FAILED! => {"changed": false, "msg": "boom"}', "...ignoring"]
    ok = _result(action="assert", result={"changed": False, "failed": False, "msg": "works"})
    assert result_lines(ok, 0) == ['ok: [testhost] => {\n    "changed": false,\n    "msg": "works"\n}']
    quiet = _result(action="assert", result={"changed": False, "failed": False})  # ``quiet``: no msg
    assert result_lines(quiet, 0) == ["ok: [testhost]"]
    unreachable = _result(status="unreachable", msg="no route", result={})
    assert result_lines(unreachable, 0) == ['fatal: [testhost]: UNREACHABLE! => {"msg": "no route"}']


def test_a_loop_prints_one_line_per_item() -> None:
    items = [{"changed": False, "item": "a", "ansible_loop_var": "item"},
             {"changed": True, "item": "b", "ansible_loop_var": "item"},
             {"skipped": True, "item": "c", "ansible_loop_var": "item"}]
    lines = result_lines(_result(status="changed", result={"results": items, "changed": True}), 0)
    assert lines == ["ok: [testhost] => (item=a)", "changed: [testhost] => (item=b)",
                     "skipping: [testhost] => (item=c) "]


def test_dump_hides_internal_keys_and_invocation_below_vvv() -> None:
    data = {"rc": 0, "_ansible_no_log": False, "invocation": {"module_args": {}}, "diff": {}}
    assert dump_result(data, 2) == '{"rc": 0}'
    assert '"invocation"' in dump_result(data, 3) and "\n    " in dump_result(data, 3)


def test_recap_rows_as_the_callback_formats_them() -> None:
    stats = {"web": HostStats(ok=5, changed=1), "db": HostStats(failed=1)}
    report = RunReport(hosts=["web", "db"], stats=stats)
    lines = recap_lines(report)
    assert lines[1].startswith("PLAY RECAP *")
    assert lines[2] == ("db                         : ok=0    changed=0    unreachable=0    failed=1    "
                        "skipped=0    rescued=0    ignored=0   ")
    assert lines[3].startswith("web                        : ok=5    changed=1    ")


def test_console_prints_a_banner_once_per_task_and_handlers_as_running_handler() -> None:
    out: list[str] = []
    console = AnsibleConsole(out.append, 2)
    console.playbook("main.yml", 3)
    console.play("p", ["a", "b"])
    console.task_done(_result(host="a", task="t", origin="/x/main.yml:4"))
    console.task_done(_result(host="b", task="t", origin="/x/main.yml:4"))
    console.task_done(_result(host="a", task="role : h", handler=True, why=["t"]))
    text = [line for line in out if line]
    assert text[:2] == ["PLAYBOOK: main.yml " + "*" * 61, "3 plays in main.yml"]
    assert [line.split(" *")[0] for line in text if line.endswith("***")] == [
        "PLAYBOOK: main.yml", "PLAY [p]", "TASK [t]", "RUNNING HANDLER [role : h]"]
    assert "task path: /x/main.yml:4" in text
    assert [line for line in text if line.startswith("ok: ")] == ["ok: [a] => {}", "ok: [b] => {}",
                                                                 "ok: [a] => {}"]


def test_a_load_error_reads_as_ansible_playbooks_error() -> None:
    lines = load_error_lines("/p/site.yml:7: Using 'include_role' as a handler is not supported.")
    assert lines == ["ERROR! Using 'include_role' as a handler is not supported.", "",
                     "The error appears to be in '/p/site.yml': line 7"]
    assert load_error_lines("no playbook given") == ["ERROR! no playbook given"]


def test_apply_under_ansible_output_prints_a_load_error_as_ansible_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    here:\n      ansible_connection: local\n")
    (tmp_path / "site.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - debug: msg=x\n"
        "  handlers:\n    - name: h\n      include_role: {name: r}\n")
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    app = typer.Typer()
    app.command("apply")(provision_cli.apply_cmd)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["apply", "--output", "ansible", "-i", str(tmp_path / "hosts.yml"),
                                      str(tmp_path / "site.yml")], catch_exceptions=False)
    assert result.exit_code == 1
    assert "ERROR! Using 'include_role' as a handler is not supported." in result.stderr
    assert "error:" not in result.stdout + result.stderr
