"""kprov becomes another user with sudo only: a task or play that asks for another
become_method fails (it was once accepted and ignored), and sudo is accepted as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.connect.local import LocalConnector

from .harness import run_fake, statuses

SITE = """
- hosts: all
  gather_facts: false
  become: true
  tasks:
    - name: sudo
      command: "true"
      become_method: sudo
    - name: su
      command: "true"
      become_method: "{{ 'su' }}"
      ignore_errors: true
      register: su
    - name: not becoming
      command: "true"
      become: false
      become_method: su
"""


def test_only_sudo_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report, registered = run_fake(tmp_path, monkeypatch, {"site.yml": SITE}, ["h1"],
                                  {"h1": LocalConnector("h1")})  # type: ignore[dict-item]
    assert statuses(report, "h1") == [("sudo", "changed"), ("su", "failed"), ("not becoming", "changed")]
    assert "become_method 'su' is not supported" in registered["h1"]["su"]["msg"]
