"""``async``/``poll`` and ``async_status`` run for real on this machine (the local connector):
jobs detach, outlive their task, are killed whole at their time limit, and read back as the
module would have reported them."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from kprov.provision.connect.local import LocalConnector

from .harness import run_fake, statuses


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tasks: str,
         check: bool = False) -> tuple[list[tuple[str, str]], dict]:
    jobs = tmp_path / "jobs"
    site = f"""
- hosts: all
  gather_facts: false
  vars:
    ansible_async_dir: {jobs}
  tasks:
{tasks}
"""
    report, registered = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"],
                                  {"h1": LocalConnector("h1")}, check=check)  # type: ignore[dict-item]
    return statuses(report, "h1"), registered["h1"]


def test_a_fire_and_forget_job_is_read_back_as_its_module_reports(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    done, var = _run(tmp_path, monkeypatch, """
    - name: job
      shell: echo start; sleep 0.5; echo done; echo e >&2; exit 4
      async: 10
      poll: 0
      register: job
    - name: wait
      async_status: {jid: "{{ job.ansible_job_id }}"}
      register: st
      until: st.finished
      retries: 40
      delay: 0.2
      failed_when: false
""")
    assert done == [("job", "changed"), ("wait", "changed")]
    job, st = var["job"], var["st"]
    assert (job["started"], job["finished"]) == (1, 0)
    assert job["results_file"] == f"{tmp_path / 'jobs'}/{job['ansible_job_id']}"
    assert (st["finished"], st["rc"], st["stdout"], st["stderr"]) == (1, 4, "start\ndone", "e")
    assert st["cmd"].startswith("echo start") and st["msg"] == "non-zero return code"
    assert st["attempts"] > 1  # it was running when first asked


def test_a_job_past_its_limit_is_killed_with_its_children(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    marker = "sleep 7.3"
    done, var = _run(tmp_path, monkeypatch, f"""
    - name: job
      shell: "{marker}1 & {marker}2; wait"
      async: 1
      poll: 0
      register: job
    - name: wait
      async_status: {{jid: "{{{{ job.ansible_job_id }}}}"}}
      register: st
      until: st.finished
      retries: 40
      delay: 0.2
      ignore_errors: true
""")
    assert done[1] == ("wait", "failed")
    assert var["st"]["msg"] == "Timeout exceeded"
    time.sleep(0.2)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    assert left.stdout == "", "the job's processes outlived its time limit"


def test_poll_waits_for_the_job_and_removes_its_files(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    done, var = _run(tmp_path, monkeypatch, """
    - name: job
      command: echo polled
      async: 10
      poll: 1
      register: job
""")
    assert done == [("job", "changed")]
    assert (var["job"]["rc"], var["job"]["stdout"], var["job"]["finished"]) == (0, "polled", 1)
    assert list((tmp_path / "jobs").iterdir()) == []


def test_a_finished_job_leaves_no_watcher_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the watcher would otherwise sleep out the whole limit, then kill whatever process group
    # took the finished job's number
    done, _ = _run(tmp_path, monkeypatch, """
    - name: job
      command: echo polled
      async: 600
      poll: 1
""")
    assert done == [("job", "changed")]
    deadline = time.monotonic() + 10  # the signalled watcher exits when it is next scheduled
    while True:
        left = subprocess.run(["pgrep", "-f", str(tmp_path / "jobs")], capture_output=True, text=True)
        if left.stdout == "" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert left.stdout == "", f"the job's watcher outlived the job: {left.stdout}"


def test_poll_reports_a_job_past_its_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    done, var = _run(tmp_path, monkeypatch, """
    - name: job
      shell: sleep 20
      async: 1
      poll: 1
      register: job
      ignore_errors: true
""")
    assert done == [("job", "failed")]
    assert var["job"]["msg"] == "async task did not complete within the requested time - 1s"


def test_a_module_without_a_detached_form_is_recorded_as_a_finished_job(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = tmp_path / "made"
    tasks = f"""
    - name: job
      file: {{path: {made}, state: directory}}
      async: 10
      poll: 0
      register: job
    - name: read
      async_status: {{jid: "{{{{ job.ansible_job_id }}}}"}}
      register: st
"""
    done, var = _run(tmp_path, monkeypatch, tasks)
    assert done == [("job", "changed"), ("read", "changed")]
    assert made.is_dir() and var["st"]["state"] == "directory" and var["st"]["finished"] == 1
    done, var = _run(tmp_path, monkeypatch, tasks)
    assert done == [("job", "changed"), ("read", "ok")]  # the job itself changed nothing


def test_async_status_of_an_unknown_or_cleaned_job_fails(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    done, var = _run(tmp_path, monkeypatch, """
    - name: job
      command: "true"
      async: 10
      poll: 0
      register: job
    - name: wait
      async_status: {jid: "{{ job.ansible_job_id }}"}
      register: st
      until: st.finished
      retries: 40
      delay: 0.1
    - name: cleanup
      async_status: {jid: "{{ job.ansible_job_id }}", mode: cleanup}
      register: erased
    - name: gone
      async_status: {jid: "{{ job.ansible_job_id }}"}
      register: gone
      ignore_errors: true
""")
    assert [s for _, s in done] == ["changed", "changed", "ok", "failed"]
    assert var["erased"]["erased"] == var["job"]["results_file"]
    assert var["gone"]["msg"] == "could not find job"
    assert list((tmp_path / "jobs").iterdir()) == []


def test_an_async_query_command_runs_once_not_read_ahead(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    counter = tmp_path / "counter"
    _run(tmp_path, monkeypatch, f"""
    - name: a read the engine reads ahead with the next task's
      stat: {{path: {tmp_path}}}
    - name: job
      shell: echo x >> {counter}
      changed_when: false
      check_mode: false
      async: 10
      poll: 1
""")
    assert counter.read_text() == "x\n"


def test_a_plan_answers_async_status_without_starting_the_job(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Check mode: the fire-and-forget task returns a job id whose async_status is the
    module's check-mode result (a command whose creates would let it run: a change, as
    ansible-core's); no job runs and nothing is written to the async dir."""
    target = tmp_path / "made"
    done, var = _run(tmp_path, monkeypatch, f"""
    - name: job
      command: touch {target}
      args: {{creates: "{target}"}}
      async: 10
      poll: 0
      register: job
    - name: wait
      async_status: {{jid: "{{{{ job.ansible_job_id }}}}"}}
      register: st
""", check=True)
    assert done == [("job", "changed"), ("wait", "changed")]
    assert (var["job"]["started"], var["job"]["finished"]) == (1, 0)
    assert var["st"]["finished"] == 1 and var["st"]["ansible_job_id"] == var["job"]["ansible_job_id"]
    assert not target.exists() and not (tmp_path / "jobs").exists()
