"""Crash-safe handlers (execute.pending): a changed task's notifications are recorded on the
host at once, a handler that ran clears its record, and a record an earlier run left (read
by the facts script) queues its handler again at the start of a play that has it."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.connect.fake import FakeConnector
from kprov.provision.execute import RunOptions
from kprov.provision.execute.pending import PENDING_DIR, file_name
from kprov.provision.execute.runlog import LoggedConnector
from kprov.provision.facts.gather import FACTS_SCRIPT, parse_facts
from kprov.provision.phases import PlaysPhase
from kprov.provision.pipelines import open_run
from kprov.provision.playbook.loader import PlaybookLoader

SITE = """
- hosts: all
  gather_facts: false
  tasks:
    - name: change the config
      command: change-config
      changed_when: {changed}
      notify: restart app
  handlers:
    - name: restart app
      command: restart-app
"""


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeConnector, changed: bool,
         pending: list[str], check: bool = False, reasons: dict[str, str] | None = None):
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    h1:\n")
    (tmp_path / "site.yml").write_text(SITE.format(changed=str(changed).lower()))
    run = open_run([str(tmp_path / "hosts.yml")], RunOptions(check=check), playbook_dir=tmp_path)
    loader = PlaybookLoader(tmp_path, known_modules=None)
    playbook = loader.load(tmp_path / "site.yml")
    run.loader = loader
    run.hosts["h1"].connector = LoggedConnector(fake, run.log)
    run.hosts["h1"].facts = {"kprov_pending_handlers": pending, "kprov_pending_reasons": reasons or {}}
    run.report.add_host("h1")
    try:
        PlaysPhase(playbook).run(run)
    finally:
        run.log.close()
    return run, [c.cmd for c in fake.commands]


def _fake() -> FakeConnector:
    fake = FakeConnector(host="h1")
    for pattern in (r"^change-config", r"^restart-app", r"^mkdir -p", r"^rm -f"):
        fake.on(pattern)
    return fake


def test_a_change_is_recorded_before_its_handler_and_cleared_by_it(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    run, commands = _run(tmp_path, monkeypatch, _fake(), changed=True, pending=[])
    assert [c.split()[0] for c in commands] == ["change-config", "mkdir", "restart-app", "rm"]
    assert f"{PENDING_DIR}/restart_app" in commands[1] and "'restart app'" in commands[1]
    assert f"{PENDING_DIR}/restart_app" in commands[3]
    assert run.report.ok and run.hosts["h1"].pending() == set()


def test_a_rerun_runs_the_handler_an_interrupted_run_left_pending(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    run, commands = _run(tmp_path, monkeypatch, _fake(), changed=False, pending=["restart app", "other"])
    assert [c.split()[0] for c in commands] == ["change-config", "restart-app", "rm"]
    assert [(r.task, r.status) for r in run.report.results] == [("change the config", "ok"),
                                                                ("restart app", "changed")]
    assert run.hosts["h1"].pending() == {"other"}  # a handler this play does not have stays


def test_a_handler_that_fails_stays_pending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A restart an earlier run recorded, failing now (its unit not healthy): the record stays,
    so the next run restarts again; it is not this run's mark, so a failed host keeps it."""
    fake = FakeConnector(host="h1")
    fake.on(r"^change-config")
    fake.on(r"^restart-app", rc=1, stderr="app is not healthy")
    run, commands = _run(tmp_path, monkeypatch, fake, changed=False, pending=["restart app"])
    assert [c.split()[0] for c in commands] == ["change-config", "restart-app"]  # no rm
    assert not run.report.ok and run.hosts["h1"].pending() == {"restart app"}


def test_no_change_and_no_record_costs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, commands = _run(tmp_path, monkeypatch, _fake(), changed=False, pending=[])
    assert commands == ["change-config"]


def test_facts_read_the_records() -> None:
    assert file_name("Restart kprov-kubelet") == "Restart_kprov-kubelet"
    assert "pending-handlers" in FACTS_SCRIPT
    text = "@@kprov:kprov_pending_handlers\nrestart kprov-apiserver\nRestart kprov-kubelet\n"
    assert parse_facts(text)["kprov_pending_handlers"] == ["Restart kprov-kubelet", "restart kprov-apiserver"]


def test_a_handler_says_which_change_notified_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run, commands = _run(tmp_path, monkeypatch, _fake(), changed=True, pending=[])
    handler = next(r for r in run.report.results if r.task == "restart app")
    assert handler.why == ["change the config"]
    assert "'change the config'" in commands[1]  # the marker carries the reason too
    assert run.report.to_dict()["results"][1]["why"] == ["change the config"]


def test_a_pending_handler_says_what_recorded_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run, _ = _run(tmp_path, monkeypatch, _fake(), changed=True, pending=["restart app"],
                  reasons={"restart app": "kprov's runtime changed: a -> b"})
    handler = next(r for r in run.report.results if r.task == "restart app")
    assert handler.why == ["change the config", "kprov's runtime changed: a -> b"]
    run, _ = _run(tmp_path, monkeypatch, _fake(), changed=False, pending=["restart app"])
    handler = next(r for r in run.report.results if r.task == "restart app")
    assert handler.why == ["recorded as pending by an earlier run"]


def test_notify_reason_names_the_changed_file() -> None:
    from kprov.provision.execute.host_runner import notify_reason
    from kprov.provision.execute.results import TaskResult

    result = TaskResult(host="h1", task="t", action="template", status="changed",
                        result={"dest": "/etc/kprov/apiserver.yaml", "changed": True})
    assert notify_reason("Write the config", result) == "Write the config (/etc/kprov/apiserver.yaml)"
    looped = TaskResult(host="h1", task="t", action="copy", status="changed", result={"results": [
        {"dest": "/a", "changed": False}, {"dest": "/b", "changed": True}]})
    assert notify_reason("Copy certs", looped) == "Copy certs (/b)"


def test_facts_read_the_reasons() -> None:
    text = "@@kprov:kprov_pending_handlers\nrestart app\tcertificates changed\nother\n"
    facts = parse_facts(text)
    assert facts["kprov_pending_handlers"] == ["other", "restart app"]
    assert facts["kprov_pending_reasons"] == {"restart app": "certificates changed"}


FAILING_SITE = """
- hosts: all
  gather_facts: false
  tasks:
    - name: change the config
      command: change-config
      changed_when: true
      notify: restart app
    - name: break
      command: break-now
  handlers:
    - name: restart app
      command: restart-app
"""


def test_a_failed_host_forgets_the_handlers_it_notified(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """ansible-core drops a failed host's notifications (its handlers do not run, and nothing
    carries them into the next run): the marker this run wrote is removed again, so a rerun
    does not run a handler ansible-playbook would not; an earlier run's marker stays."""
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    h1:\n")
    (tmp_path / "site.yml").write_text(FAILING_SITE)
    fake = _fake()
    fake.on(r"^break-now", rc=1, stderr="boom")
    run = open_run([str(tmp_path / "hosts.yml")], RunOptions(), playbook_dir=tmp_path)
    loader = PlaybookLoader(tmp_path, known_modules=None)
    playbook = loader.load(tmp_path / "site.yml")
    run.loader = loader
    run.hosts["h1"].connector = LoggedConnector(fake, run.log)
    run.hosts["h1"].facts = {"kprov_pending_handlers": ["other"], "kprov_pending_reasons": {}}
    run.report.add_host("h1")
    try:
        PlaysPhase(playbook).run(run)
    finally:
        run.log.close()
    commands = [c.cmd for c in fake.commands]
    assert [c.split()[0] for c in commands] == ["change-config", "mkdir", "break-now", "rm"]
    assert f"{PENDING_DIR}/restart_app" in commands[3] and "other" not in commands[3]
    assert not run.report.ok
    assert run.hosts["h1"].pending() == {"other"}


def test_forget_failed_host_is_the_one_place_a_failed_host_forgets(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The play's notifications of the failed host (which handlers and why) and this run's
    markers go together; another host's notifications stay."""
    from kprov.provision.execute.context import HostState, PlayContext
    from kprov.provision.execute.pending import forget_failed_host
    from kprov.provision.playbook.model import Play

    fake = _fake()
    host = HostState(name="h1", inventory_vars={}, facts={"kprov_pending_handlers": ["earlier"]})
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    h1:\n")
    run = open_run([str(tmp_path / "hosts.yml")], RunOptions(), playbook_dir=tmp_path)
    host.connector = LoggedConnector(fake, run.log)
    host.pending().add("restart app")
    play = Play(name="p", hosts="all", origin="site.yml", base_dir=tmp_path)
    pctx = PlayContext(play=play, hosts=["h1", "h2"], batch=["h1", "h2"], sync=None,
                       notified={"h1": ["restart app"], "h2": ["restart app"]},
                       why={"h1": {"restart app": ["t"]}, "h2": {"restart app": ["t"]}})
    try:
        forget_failed_host(pctx, host, check=False)
    finally:
        run.log.close()
    assert pctx.notified == {"h2": ["restart app"]} and pctx.why == {"h2": {"restart app": ["t"]}}
    assert host.pending() == {"earlier"} and fake.commands[-1].cmd.startswith("rm -f")
