"""``environment:`` for real through the local connector: entries of the play, a role, a block,
an include and the task add up (the innermost wins a name), every command a module sends
sees them (read-ahead queries too), an entry that is not a mapping is skipped with a warning
(as Ansible's Task does), and the run log shows the names, never the values."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.connect.local import LocalConnector

from .harness import run_fake, statuses

SITE = """
- hosts: all
  gather_facts: false
  environment: {KPROV_A: play, KPROV_B: play, KPROV_C: play}
  roles:
    - role: envrole
      environment: {KPROV_R: role}
  tasks:
    - block:
        - name: task level
          command: printenv KPROV_A KPROV_B KPROV_C
          environment: {KPROV_C: "{{ inner }}", KPROV_M: "two\\nlines secret"}
          register: levels
        - name: query
          shell: echo "$KPROV_A/$KPROV_B"
          changed_when: false
          check_mode: false
          register: query
        - name: argv
          command:
            argv: [printf, "%s", "$KPROV_B"]
          register: argv
      environment: {KPROV_B: block}
    - name: included
      include_tasks: inc.yml
      environment: {KPROV_I: include}
    - name: not a mapping
      command: printenv KPROV_A
      environment: ["{{ inner }}"]
      register: skipped
  vars:
    inner: "task's secret value"
"""
FILES = {
    "site.yml": SITE,
    "inc.yml": "- name: in include\n  command: printenv KPROV_I KPROV_A\n  register: inc\n",
    "roles/envrole/tasks/main.yml": ("- name: in role\n  command: printenv KPROV_R KPROV_A\n"
                                     "  register: role\n"),
}


def test_environment_adds_up_and_reaches_every_command(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KPROV_A", "KPROV_B", "KPROV_C", "KPROV_R", "KPROV_I"):
        monkeypatch.delenv(name, raising=False)
    report, registered = run_fake(tmp_path, monkeypatch, FILES, ["h1"],
                                  {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    var = registered["h1"]
    assert var["role"]["stdout_lines"] == ["role", "play"]
    assert var["levels"]["stdout_lines"] == ["play", "block", "task's secret value"]
    assert var["query"]["stdout"] == "play/block"
    assert var["argv"]["stdout"] == "block"  # argv words expand in the module's environment
    assert var["inc"]["stdout_lines"] == ["include", "play"]
    assert var["skipped"]["stdout"] == "play"  # skipped, as Ansible does, the play's still applies
    assert statuses(report, "h1")[-1] == ("not a mapping", "changed")
    log = next((tmp_path / "logs").glob("run-*.log")).read_text()
    assert ("export KPROV_A=******** KPROV_B=******** KPROV_C=******** KPROV_M=******** "
            "# kprov: task environment") in log  # a value with a newline too
    assert "not a mapping: could not parse environment value, skipping" in log
    assert "secret value" not in log


def test_a_name_that_is_not_a_variable_fails_before_anything_runs(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "ran"
    site = f"""
- hosts: all
  gather_facts: false
  tasks:
    - name: injected
      command: touch {marker}
      environment: {{"X; touch {marker}; Y": "1"}}
      ignore_errors: true
      register: out
"""
    report, registered = run_fake(tmp_path, monkeypatch, {"site.yml": site}, ["h1"],
                                  {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert statuses(report, "h1") == [("injected", "failed")]
    assert "is not a variable name" in registered["h1"]["out"]["msg"]
    assert not marker.exists()
