"""``delegate_facts``: facts a delegated task sets (set_fact, a module's ansible_facts) join the
delegate_to host's facts, per loop item, and not the host the task ran for; without it they
stay with that host."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kprov.provision.connect.local import LocalConnector

from .harness import run_fake, statuses

SITE = """
- hosts: h1
  gather_facts: false
  tasks:
    - name: to h2
      set_fact: {shared: from-h1}
      delegate_to: h2
      delegate_facts: true
    - name: per item
      set_fact: {per_item: "{{ item }}"}
      loop: [h2, h3]
      delegate_to: "{{ item }}"
      delegate_facts: true
    - name: module facts to h3
      package_facts: {}
      delegate_to: h3
      delegate_facts: true
    - name: kept here
      set_fact: {mine: h1}
      delegate_to: h2
    - name: nowhere to keep them
      set_fact: {lost: x}
      delegate_to: localhost
      delegate_facts: true
      ignore_errors: true
      register: lost
- hosts: h1,h3
  gather_facts: false
  tasks:
    - set_fact: {has_packages: "{{ packages is defined }}"}
"""


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="package_facts needs dpkg")
def test_facts_go_to_the_delegated_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = ["h1", "h2", "h3"]
    report, registered = run_fake(tmp_path, monkeypatch, {"site.yml": SITE}, hosts,
                                  {h: LocalConnector(h) for h in hosts})  # type: ignore[misc]
    assert [s for _, s in statuses(report, "h1")][:5] == ["ok", "ok", "ok", "ok", "failed"]
    assert "not an inventory host" in registered["h1"]["lost"]["msg"]
    # registered holds each host's variables after the run (runtime vars)
    assert registered["h2"]["shared"] == "from-h1" and "shared" not in registered["h1"]
    assert (registered["h2"]["per_item"], registered["h3"]["per_item"]) == ("h2", "h3")
    assert registered["h1"]["mine"] == "h1" and "mine" not in registered["h2"]
    assert (registered["h3"]["has_packages"], registered["h1"]["has_packages"]) == (True, False)
