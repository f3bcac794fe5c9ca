"""``no_log`` and ``ignore_errors`` rendered per host when the task runs (execute.task.keywords),
as ansible-core post-validates them: a templated ``no_log`` true on one host and false on the
other hides exactly that host's output, in kprov's own output, ``--output ansible`` (-v, so a
shown result prints its stdout) and ``--json``, and keeps that host's command out of the run log;
a keyword that cannot be validated fails the
task (unless ``when`` is false), masked for ``no_log`` and ignored for ``ignore_errors``, as
ansible-core 2.19.14 does (measured with its ansible-playbook on a two-host local inventory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kprov.provision.errors import ProvisionError
from kprov.provision.execute.task.keywords import BOOL_KEYWORDS, render_flags, strict_bool
from kprov.provision.playbook.model import Scope, Task
from kprov.provision.templates import TemplateEngine, VarScope
from tests.unit.provision.harness import run_fake
from tests.unit.provision_app import provision_app

SECRET = "zebra-quartz-42"
SHOWN = "plain-mango-7"
HOSTS = ("all:\n  hosts:\n"
         "    hid: {ansible_connection: local, hide: true}\n"
         "    open: {ansible_connection: local, hide: 'no'}\n")
SITE = f"""- hosts: all
  gather_facts: false
  tasks:
    - name: per-host secret
      command: echo {SECRET}-{{{{ inventory_hostname }}}}
      no_log: "{{{{ hide }}}}"
    - name: plain
      command: echo {SHOWN}-{{{{ inventory_hostname }}}}
"""


def _task(loop: object = None, **keywords: object) -> Task:
    return Task(name="t", action="debug", args={}, origin="site.yml:3", scope=Scope(base_dir=Path(".")),
                loop=loop, **keywords)  # type: ignore[arg-type]


def _scope(**variables: object) -> VarScope:
    return TemplateEngine().scope([(dict(variables), True)])


def test_strict_bool_reads_ansibles_words_and_refuses_the_rest() -> None:
    assert [strict_bool(v) for v in (True, "yes", " On ", "1", 1, "t", None)] == [True] * 6 + [False]
    assert [strict_bool(v) for v in (False, "no", "OFF", "0", 0, "f", "n")] == [False] * 7
    for bad in ("maybe", "", 2, [1]):
        with pytest.raises(ValueError):
            strict_bool(bad)


def test_the_table_holds_the_keywords_with_ansible_cores_fallbacks() -> None:
    assert {name: (k.on_error, k.in_loop) for name, k in BOOL_KEYWORDS.items()} == {
        "ignore_errors": (True, False), "no_log": (True, True), "ignore_unreachable": (True, False)}


def test_render_flags_per_host_scope_and_without_a_scope_for_plain_values() -> None:
    task = _task(no_log="{{ hide }}", ignore_errors="{{ tolerate | default(false) }}")
    assert render_flags(task, lambda: _scope(hide=True)).values == {
        "ignore_errors": False, "no_log": True, "ignore_unreachable": False}
    assert render_flags(task, lambda: _scope(hide="no", tolerate="yes")).values == {
        "ignore_errors": True, "no_log": False, "ignore_unreachable": False}

    def no_scope() -> VarScope:
        raise AssertionError("a plain value needs no scope")

    plain = render_flags(_task(no_log="yes", ignore_errors=False), no_scope)
    assert plain.no_log and not plain.ignore_errors and plain.error is None


def test_a_keyword_that_cannot_be_validated_is_an_error_naming_no_rendered_value() -> None:
    undefined = render_flags(_task(no_log="{{ nope }}"), _scope)
    assert undefined.no_log and undefined.error is not None
    assert "Error processing keyword 'no_log'" in undefined.error and "'nope'" in undefined.error
    not_bool = render_flags(_task(no_log="{{ password }}", ignore_errors="maybe"),
                            lambda: _scope(password="hunter2"))
    assert not_bool.no_log and not_bool.ignore_errors and not_bool.error is not None
    assert "hunter2" not in not_bool.error and "'ignore_errors'" in not_bool.error


def test_in_a_loop_a_value_needing_the_item_masks_and_ignores_nothing() -> None:
    flags = render_flags(_task(loop=[1], no_log="{{ item.hide }}", ignore_errors="{{ item }}"), _scope)
    assert flags.error is None and flags.no_log and not flags.ignore_errors
    item = render_flags(_task(loop=[1], no_log="{{ item.hide }}"), lambda: _scope(item={"hide": False}),
                        in_loop=False)
    assert item.error is None and not item.no_log


def test_without_a_scope_a_template_is_masked() -> None:
    def failing() -> VarScope:
        raise ProvisionError("no scope")

    assert render_flags(_task(no_log="{{ hide }}"), failing).no_log


def _apply(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *options: str) -> tuple[int, str]:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    (tmp_path / "hosts.yml").write_text(HOSTS)
    (tmp_path / "site.yml").write_text(SITE)
    result = CliRunner().invoke(provision_app(), ["apply", *options, "-i", str(tmp_path / "hosts.yml"),
                                         str(tmp_path / "site.yml")], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize("options", [("-vvv",), ("--output", "ansible", "-v"), ("--json",)],
                         ids=["kprov", "ansible", "json"])
def test_a_per_host_no_log_hides_only_that_hosts_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        options: tuple[str, ...]) -> None:
    rc, text = _apply(tmp_path, monkeypatch, *options)
    assert rc == 0, text
    assert f"{SECRET}-hid" not in text  # no_log true on hid: its output never printed
    if options == ("--json",):
        doc = json.loads(text)
        results = {(r["host"], r["task"]): r["result"] for r in doc["results"]}
        assert results[("hid", "per-host secret")] == {"censored": "output hidden: no_log is set"}
        assert results[("open", "per-host secret")]["stdout"] == f"{SECRET}-open"  # false on open: shown
        assert results[("hid", "plain")]["stdout"] == f"{SHOWN}-hid"
    elif "ansible" in options:
        assert f'"stdout": "{SECRET}-open"' in text and f'"stdout": "{SHOWN}-hid"' in text
        assert 'changed: [hid] => {"censored"' in text
    else:
        assert f'"stdout": "{SECRET}-open"' in text and f'"stdout": "{SHOWN}-hid"' in text
        assert '"censored": "output hidden: no_log is set"' in text
    [log] = sorted((tmp_path / "logs").glob("run-*.log"))
    lines = log.read_text().splitlines()  # the run log: hid's no_log command hidden, open's logged
    assert f"{SECRET}-hid" not in log.read_text() and any(f"echo {SECRET}-open" in line for line in lines)
    assert any("\thid\trun\t0\t" in line and line.endswith("(hidden: no_log)") for line in lines)
    assert any(f"echo {SHOWN}-hid" in line for line in lines)


UNVALIDATED = """- hosts: all
  gather_facts: false
  tasks:
    - name: undefined no_log
      command: echo undef-secret
      no_log: "{{ nope }}"
      ignore_errors: true
    - name: undefined no_log, when false
      command: echo skipped-secret
      no_log: "{{ nope }}"
      when: false
    - name: undefined ignore_errors
      command: "true"
      ignore_errors: "{{ nope }}"
    - name: not a boolean
      command: "true"
      ignore_errors: maybe
    - name: per-host ignore_errors
      fail: msg=stops
      ignore_errors: "{{ hide }}"
    - set_fact: after=1
"""


def test_keywords_that_cannot_be_validated_fail_the_task_as_ansible_core_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = {"site.yml": UNVALIDATED, "host_vars/a.yml": "hide: true\n", "host_vars/b.yml": "hide: false\n"}
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["a", "b"])
    rows = {(r.host, r.task): r for r in report.results}
    for host in ("a", "b"):
        masked = rows[(host, "undefined no_log")]
        assert masked.status == "failed" and masked.ignored  # the task's own ignore_errors
        assert masked.result == {"censored": "output hidden: no_log is set"}
        assert "Error processing keyword 'no_log'" in masked.msg and "undef-secret" not in masked.msg
        skipped = rows[(host, "undefined no_log, when false")]
        assert skipped.status == "skipped" and "censored" in skipped.result
        for name in ("undefined ignore_errors", "not a boolean"):
            row = rows[(host, name)]
            assert (row.status, row.ignored) == ("failed", True), row  # failed, and the failure ignored
            assert "Error processing keyword 'ignore_errors'" in row.msg
    assert (rows[("a", "per-host ignore_errors")].ignored, rows[("b", "per-host ignore_errors")].ignored) == (
        True, False)
    assert runtime["a"].get("after") == "1" and "after" not in runtime["b"]
    # nothing ran where a keyword failed the task
    for host in ("a", "b"):
        ran = " ".join(str(c) for c in report.results if c.host == host)
        assert "undef-secret" not in ran


@pytest.mark.parametrize("verbosity", [0, 2])
def test_no_log_on_ansible_verbosity_as_linux_system_roles_timesync_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, verbosity: int,
) -> None:
    """``ansible_verbosity`` is the -v count (ansible-core's options vars): before it was
    defined here, rendering that ``no_log`` per host would have failed the task."""
    files = {"site.yml": "- hosts: all\n  gather_facts: false\n  tasks:\n"
                         "    - debug: msg=quiet-unless-verbose\n"
                         "      no_log: \"{{ ansible_verbosity < 2 }}\"\n"}
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h"], verbosity=verbosity)
    [row] = report.results
    assert row.status == "ok"
    assert row.result.get("msg") == (None if verbosity < 2 else "quiet-unless-verbose")
