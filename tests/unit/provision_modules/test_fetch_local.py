"""ansible.builtin.fetch over the local connection, through a play: the host-named layout,
``flat`` with a trailing slash, then nothing to do the second time; a missing file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.unit.provision_app import provision_app


def test_fetch_lays_out_files_as_ansible_and_converges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "remote" / "etc" / "app.conf"
    source.parent.mkdir(parents=True)
    source.write_text("key=value\n")
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    here:\n      ansible_connection: local\n")
    (tmp_path / "site.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        f"    - name: by host\n      fetch: {{src: {source}, dest: fetched}}\n"
        f"    - name: flat\n      fetch: {{src: {source}, dest: flat/, flat: true}}\n"
        f"    - name: missing\n      fetch:\n"
        f"        {{src: {tmp_path}/nope, dest: fetched, fail_on_missing: false}}\n")
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))

    def apply() -> dict:
        result = CliRunner().invoke(provision_app(), ["apply", "--json", "-i", str(tmp_path / "hosts.yml"),
                                             str(tmp_path / "site.yml")], catch_exceptions=False)
        return json.loads(result.stdout)

    first = apply()
    assert first["ok"], first["results"]
    by_task = {r["task"]: r for r in first["results"]}
    assert by_task["by host"]["status"] == "changed" and by_task["flat"]["status"] == "changed"
    assert (tmp_path / "fetched" / "here" / str(source).lstrip("/")).read_text() == "key=value\n"
    assert (tmp_path / "flat" / "app.conf").read_text() == "key=value\n"
    assert by_task["missing"]["status"] == "ok"
    assert by_task["missing"]["result"]["msg"] == "the remote file does not exist, not transferring, ignored"
    second = apply()
    assert second["ok"] and second["stats"]["here"]["changed"] == 0
    assert {r["task"]: r for r in second["results"]}["by host"]["result"]["checksum"] == \
        by_task["by host"]["result"]["checksum"]
