"""wait_for in check mode (kprov plan): skipped, as ansible-core reports a module without
check-mode support, instead of waiting on a port only the real run would open."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kprov.provision.execute import RunOptions
from kprov.provision.pipelines import apply


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_check_mode_skips_the_wait_and_a_real_run_waits(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    h1: {ansible_connection: local}\n")
    (tmp_path / "site.yml").write_text(f"""
- hosts: h1
  gather_facts: false
  tasks:
    - wait_for: {{port: {_closed_port()}, host: 127.0.0.1, timeout: 1}}
""")
    planned = apply([str(tmp_path / "hosts.yml")], tmp_path / "site.yml", RunOptions(check=True))
    [result] = planned.results
    assert planned.ok and result.status == "skipped"
    assert result.msg == "remote module (wait_for) does not support check mode"
    real = apply([str(tmp_path / "hosts.yml")], tmp_path / "site.yml", RunOptions())
    assert not real.ok and "Timeout when waiting for 127.0.0.1" in real.results[0].msg
