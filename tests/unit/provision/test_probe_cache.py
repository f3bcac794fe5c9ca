"""The probe cache, for real through the local connector: a no-op play reads the host once,
and drift is still found and corrected — drift made by hand before the run, and drift made
during the run by a task that reports a change (later tasks must see it, not the state read
at the play's start)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kprov.provision.connect.base import CommandResult
from kprov.provision.connect.local import LocalConnector
from kprov.provision.execute.probes.probecache import ProbeCache

from .harness import run_fake, statuses


def _commands(tmp_path: Path) -> list[str]:
    logs = sorted((tmp_path / "logs").glob("run-*.log"))
    return [line.split("\t")[6] for line in logs[-1].read_text().splitlines() if line.split("\t")[2] == "run"]


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site: str) -> tuple[list[str], dict]:
    if (tmp_path / "logs").exists():
        shutil.rmtree(tmp_path / "logs")
    report, registered = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"],
                                  {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    return [s for _, s in statuses(report, "h1")], registered["h1"]


_PLAY = """
- hosts: all
  gather_facts: false
  tasks:
"""


def _site(dest: Path, middle: str = "") -> str:
    return _PLAY + f"""    - {{name: conf, copy: {{content: "a=1\\n", dest: "{dest}/conf", mode: "0640"}}}}
    - {{name: dir, file: {{path: "{dest}/sub", state: directory, mode: "0750"}}}}
    - name: a check that changes nothing
      command: "cat {dest}/conf"
      changed_when: false
{middle}
    - {{name: conf again, copy: {{content: "a=1\\n", dest: "{dest}/conf", mode: "0640"}}}}
    - {{name: made once, command: "touch {dest}/made", args: {{creates: "{dest}/made"}}}}
    - {{name: dir stat, stat: {{path: "{dest}/sub"}}, register: sub}}
"""


def test_a_noop_play_reads_the_host_once_besides_its_commands(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    first, _ = _run(tmp_path, monkeypatch, _site(dest))
    assert first == ["changed", "changed", "ok", "ok", "changed", "ok"]
    again, registered = _run(tmp_path, monkeypatch, _site(dest))
    assert again == ["ok", "ok", "ok", "ok", "ok", "ok"]
    assert registered["sub"]["stat"]["isdir"] and registered["sub"]["stat"]["mode"] == "0750"
    commands = _commands(tmp_path)
    # one batch of every probe (creates included), and the check command itself
    assert len(commands) == 2 and commands[0].startswith("_kprov_f()") and commands[1].startswith("cat ")


def test_guarded_commands_are_read_in_one_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "out"
    site = _PLAY + f"""    - {{name: made, command: "touch {dest}/made", args: {{creates: "{dest}/made"}}}}
    - {{name: cleaned, command: "rm {dest}/stale", args: {{removes: "{dest}/stale"}}}}
    - {{name: cleaned too, shell: "rm {dest}/*.old", args: {{removes: "{dest}/*.old"}}}}
"""
    dest.mkdir()
    _run(tmp_path, monkeypatch, site)
    again, _ = _run(tmp_path, monkeypatch, site)
    assert again == ["ok", "ok", "ok"]
    commands = _commands(tmp_path)
    assert len(commands) == 1 and commands[0].startswith("_kprov_f()")  # all three in one read


def test_drift_made_by_hand_is_found_and_corrected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    _run(tmp_path, monkeypatch, _site(dest))
    (dest / "conf").write_text("a=2\n")
    (dest / "sub").chmod(0o700)
    (dest / "made").unlink()
    again, _ = _run(tmp_path, monkeypatch, _site(dest))
    assert again == ["changed", "changed", "ok", "ok", "changed", "ok"]
    assert (dest / "conf").read_text() == "a=1\n" and (dest / "conf").stat().st_mode & 0o777 == 0o640
    assert (dest / "sub").stat().st_mode & 0o777 == 0o750 and (dest / "made").exists()
    third, _ = _run(tmp_path, monkeypatch, _site(dest))
    assert third == ["ok"] * 6


def test_a_task_that_changes_the_host_makes_later_tasks_probe_live(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The play's probes were read at its start; a task in the middle changes what they saw."""
    dest = tmp_path / "out"
    dest.mkdir()
    middle = f"""
    - name: someone changes the file and the directory
      shell: "echo drift > {dest}/conf; chmod 0700 {dest}/sub; rm -f {dest}/made"
"""
    _run(tmp_path, monkeypatch, _site(dest))
    statuses_, registered = _run(tmp_path, monkeypatch, _site(dest, middle))
    assert statuses_ == ["ok", "ok", "ok", "changed", "changed", "changed", "ok"]
    assert (dest / "conf").read_text() == "a=1\n" and (dest / "made").exists()
    assert registered["sub"]["stat"]["mode"] == "0700"  # read after the change, not before


def test_a_module_that_acts_drops_the_cache_even_when_told_it_changed_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    middle = f"""
    - name: rewrite conf, reported as no change
      copy: {{content: "b=1\\n", dest: "{dest}/conf"}}
      changed_when: false
"""
    _run(tmp_path, monkeypatch, _site(dest))
    statuses_, _ = _run(tmp_path, monkeypatch, _site(dest, middle))
    assert statuses_ == ["ok", "ok", "ok", "ok", "changed", "ok", "ok"]
    assert (dest / "conf").read_text() == "a=1\n"


def _dropped(tmp_path: Path) -> list[str]:
    logs = sorted((tmp_path / "logs").glob("run-*.log"))
    return [line.split("\t")[6] for line in logs[-1].read_text().splitlines()
            if line.split("\t")[2] == "event" and line.endswith("probe cache dropped")]


def _fire_and_wait(dest: Path, task: str) -> str:
    return f"""
    - {task}
      async: 30
      poll: 0
      changed_when: false
      register: job
    - name: wait for the job
      async_status: {{jid: "{{{{ job.ansible_job_id }}}}"}}
      register: done
      until: done.finished
      retries: 50
      delay: 0.1
      vars: {{ansible_async_dir: "{dest}/jobs"}}
    - name: remove its files
      async_status: {{jid: "{{{{ job.ansible_job_id }}}}", mode: cleanup}}
      vars: {{ansible_async_dir: "{dest}/jobs"}}
"""


def test_a_job_with_nothing_to_do_keeps_the_cache_and_one_that_ran_drops_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fire-and-forget reports every job as changed (as Ansible); only a job that ran may
    have changed the host, so only it makes later tasks probe live."""
    dest = tmp_path / "out"
    dest.mkdir()
    _run(tmp_path, monkeypatch, _site(dest))
    idle = _fire_and_wait(dest, f"""name: a directory that is there
      file: {{path: "{dest}/sub", state: directory, mode: "0750"}}
      vars: {{ansible_async_dir: "{dest}/jobs"}}""")
    statuses_, registered = _run(tmp_path, monkeypatch, _site(dest, idle))
    assert registered["done"]["finished"] == 1 and registered["done"]["changed"] is False
    assert statuses_ == ["ok"] * 9 and _dropped(tmp_path) == []
    assert list((dest / "jobs").iterdir()) == []

    drifts = _fire_and_wait(dest, f"""name: a job that rewrites conf
      shell: "echo drift > {dest}/conf"
      vars: {{ansible_async_dir: "{dest}/jobs"}}""")
    statuses_, _ = _run(tmp_path, monkeypatch, _site(dest, drifts))
    assert statuses_[6] == "changed"  # conf again: the drift the job made is seen
    assert (dest / "conf").read_text() == "a=1\n" and _dropped(tmp_path)


def test_until_reads_the_host_anew_on_every_attempt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    site = f"""
- hosts: all
  gather_facts: false
  tasks:
    - name: start something that makes a file a moment later
      shell: "(sleep 0.4; touch {dest}/late) >/dev/null 2>&1 &"
      changed_when: false
    - name: wait for it
      stat: {{path: "{dest}/late"}}
      register: late
      until: late.stat.exists
      retries: 20
      delay: 0.1
"""
    statuses_, registered = _run(tmp_path, monkeypatch, site)
    assert statuses_ == ["ok", "ok"] and registered["late"]["attempts"] > 1


def test_the_cache_keeps_results_only_from_its_current_generation() -> None:
    cache = ProbeCache()
    key = ("stat /x", True, None)
    result = CommandResult(0, "STAT:...", "")
    generation = cache.generation
    cache.invalidate()  # dropped while the batch was on its way
    assert not cache.store_all({key: result}, generation) and key not in cache
    assert cache.store_all({key: result}, cache.generation) and cache.get(key) == result
