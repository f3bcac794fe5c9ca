"""A play's ``connection`` and ``remote_user`` decide how its hosts are reached, beneath the
hosts' own ansible_connection/ansible_user (Ansible's order); plays that disagree about a
host are refused before anything runs, since kprov keeps one session per host."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import PlaybookError
from kprov.provision.execute import RunOptions
from kprov.provision.phases.connect import connection_vars
from kprov.provision.pipelines import _set_connection_keywords as set_keywords
from kprov.provision.pipelines import apply, open_run
from kprov.provision.playbook.loader import PlaybookLoader

# h1's address is a closed loopback port: reaching it over SSH fails at once
HOSTS = """all:
  hosts:
    h1: {ansible_host: 127.0.0.9, ansible_port: 1}
    h2: {ansible_host: 127.0.0.9, ansible_port: 1, ansible_user: given}
"""


def _write(tmp_path: Path, site: str) -> tuple[Path, Path]:
    (tmp_path / "hosts.yml").write_text(HOSTS)
    (tmp_path / "site.yml").write_text(site)
    return tmp_path / "hosts.yml", tmp_path / "site.yml"


def test_a_local_play_runs_on_this_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    marker = tmp_path / "ran-here"
    inventory, site = _write(tmp_path, f"""
- hosts: h1
  connection: local
  gather_facts: false
  tasks:
    - command: touch {marker}
""")
    report = apply([str(inventory)], site, RunOptions())
    assert report.ok and marker.exists()


def test_remote_user_is_the_default_user_and_the_host_variable_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    inventory, site = _write(tmp_path, """
- hosts: all
  remote_user: deploy
  tasks: []
- hosts: h1
  remote_user: deploy
  tasks: []
""")
    run = open_run([str(inventory)], RunOptions(), playbook_dir=tmp_path)
    set_keywords(run, PlaybookLoader(tmp_path).load(site), ["h1", "h2"])
    assert connection_vars(run, "h1")["ansible_user"] == "deploy"
    assert connection_vars(run, "h2")["ansible_user"] == "given"
    run.log.close()


def test_plays_that_disagree_about_a_host_are_refused(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    inventory, site = _write(tmp_path, """
- name: first
  hosts: all
  remote_user: deploy
  tasks: []
- name: second
  hosts: all
  remote_user: admin
  tasks: []
""")
    with pytest.raises(PlaybookError) as caught:
        apply([str(inventory)], site, RunOptions())
    # h2's own ansible_user decides for it; h1 has none
    assert str(caught.value).startswith("host h1: play 'first' has remote_user: deploy and play 'second' "
                                        "has remote_user: admin")
    assert "set ansible_user for h1 in the inventory" in str(caught.value)
