"""Ansible semantics the wide corpus's round-5a roles showed kprov missing (decision 0055):
an ``include_role``'s own ``vars`` reach the role's nested includes (linux-system-roles.logging),
``ansible_version`` is defined (linux-system-roles' fingerprint tasks), and the user module
takes the ssh_key_* settings it reads only with generate_ssh_key (weareinteractive.users)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.modules.files.fileops import validate_command
from kprov.provision.modules.protocol.module import ansible_version_info
from kprov.provision.modules.system.user import SPEC as USER_ARGS

from .harness import run_fake


def test_include_role_vars_reach_the_roles_nested_include_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "site.yml": """
- hosts: all
  gather_facts: false
  tasks:
    - include_role: {name: sub}
      vars: {__sub_enabled: true, sub_word: "{{ 'on' }}"}
""",
        "roles/sub/tasks/main.yml": "- include_tasks: core.yml\n",
        "roles/sub/tasks/core.yml": (
            "- {name: core, debug: {msg: 'core {{ sub_word }}'}, when: __sub_enabled | bool}\n"
        ),
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    got = [(r.task, r.status, r.msg) for r in report.results if r.task == "sub : core"]
    assert got == [("sub : core", "ok", "core on")]


def test_ansible_version_is_defined_with_its_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "site.yml": """
- hosts: all
  gather_facts: false
  tasks:
    - name: version
      debug: {msg: "{{ ansible_version.full }} {{ ansible_version.major }}.{{ ansible_version.minor }}"}
""",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    info = ansible_version_info()
    [msg] = [r.msg for r in report.results if r.task == "version"]
    assert msg == f"{info['full']} {info['major']}.{info['minor']}"
    assert info["string"] == info["full"] and info["full"].startswith(f"{info['major']}.{info['minor']}")


def test_user_takes_the_ssh_key_settings_ansible_core_declares() -> None:
    for name in ("ssh_key_bits", "ssh_key_type", "ssh_key_file", "ssh_key_comment", "ssh_key_passphrase"):
        assert name in USER_ARGS
    assert USER_ARGS["ssh_key_bits"].type == "int"
    assert USER_ARGS["ssh_key_type"].default == "rsa"


def test_validate_runs_as_one_command_without_a_shell() -> None:
    folded = "\n  /usr/sbin/sshd -t -f %s\n"  # willshersystems.sshd's validate, rendered
    assert validate_command(folded, "/tmp/x") == "/usr/sbin/sshd -t -f /tmp/x"
    # ansible-core splits the string, no shell: ';' is an argument, not a second command
    assert validate_command("visudo -cf %s; true", "/tmp/y") == "visudo -cf '/tmp/y;' true"


def test_a_templated_notify_name_reaches_its_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "site.yml": """
- hosts: all
  gather_facts: false
  vars: {mode: 1}
  tasks:
    - name: change
      debug: {msg: x}
      changed_when: true
      notify: "Restart {{ 'chronyd' if mode == 1 else 'timemaster' }}"
  handlers:
    - {name: Restart chronyd, debug: {msg: chrony}}
    - {name: Restart timemaster, debug: {msg: timemaster}}
""",
    }
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    assert [(r.task, r.status) for r in report.results] == [("change", "changed"), ("Restart chronyd", "ok")]
