"""``until``/``retries`` as ansible-core's attempt loop runs them (loop-until target): each
attempt's changed_when/failed_when before its until, ``attempts`` visible to them, the count
when attempts run out, and ``retries`` without ``until`` retrying until success."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.connect.local import LocalConnector

from .harness import run_fake, statuses


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tasks: str) -> tuple[list, dict]:
    site = {"site.yml": "- hosts: all\n  gather_facts: false\n  tasks:\n" + tasks}
    report, registered = run_fake(tmp_path, monkeypatch, site, ["h1"],
                                  {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    return statuses(report, "h1"), registered["h1"]


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def test_failed_when_and_changed_when_are_what_until_sees(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    got, registered = _run(tmp_path, monkeypatch, f"""
    - name: fw
      shell: echo run >> {a}
      register: fw
      failed_when: true
      until: fw is successful
      retries: 3
      delay: 0
      ignore_errors: true
    - name: cw
      shell: echo run >> {b}
      register: cw
      changed_when: false
      until: cw is changed
      retries: 3
      delay: 0
      ignore_errors: true
""")
    assert (_lines(a), _lines(b)) == (4, 4)  # the first run and 3 retries each
    assert got == [("fw", "failed"), ("cw", "failed")]
    assert registered["fw"]["attempts"] == 3 and registered["fw"]["failed_when_result"] is True
    assert registered["cw"]["changed"] is False


def test_attempts_is_visible_to_failed_when_and_retries_alone_retry_until_success(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = tmp_path / "c"
    got, registered = _run(tmp_path, monkeypatch, f"""
    - name: counted
      shell: 'true'
      register: counted
      until: false
      retries: 2
      delay: 0
      failed_when: counted.attempts > 2
      ignore_errors: true
    - name: flaky
      shell: echo x >> {c}; test $(wc -l < {c}) -ge 2
      register: flaky
      retries: 5
      delay: 0
""")
    assert got == [("counted", "failed"), ("flaky", "changed")]
    assert registered["counted"]["failed_when_result"] is True
    assert _lines(c) == 2 and registered["flaky"]["attempts"] == 2


def test_a_changeless_poll_in_a_loop_runs_its_command_once_per_attempt(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = [tmp_path / f"f{i}" for i in range(3)]
    loop = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    got, _ = _run(tmp_path, monkeypatch, f"""
    - name: poll
      shell: echo run >> {{{{ item }}}}
      register: polled
      changed_when: false
      until: polled is changed
      retries: 2
      delay: 0
      ignore_errors: true
      loop: "{{{{ {loop} }}}}"
""")
    assert got == [("poll", "failed")]
    assert [_lines(f) for f in files] == [3, 3, 3]


def test_when_attempts_run_out_failed_when_decides_the_status(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got, registered = _run(tmp_path, monkeypatch, """
    - name: out
      shell: 'true'
      register: out
      until: 1 == 0
      retries: 2
      delay: 0
      failed_when: out.attempts > 6
    - name: after
      debug: msg=reached
""")
    assert got == [("out", "changed"), ("after", "ok")]
    assert registered["out"]["attempts"] == 2 and registered["out"]["failed"] is True
