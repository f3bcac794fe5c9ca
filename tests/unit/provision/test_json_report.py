"""``kprov apply --json`` through the real CLI on the local connection: the report parses as
JSON whatever names the data holds (every credential name of the masking list as a key of
facts, holding a mapping, a list, a number or a secret; this machine's ``getent_passwd`` and
its packages, ``base-passwd`` among them), and
still shows no secret: the data is redacted before it is serialized."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kprov.provision.redact import _CREDENTIAL_NAMES, REDACTED, redact_data
from tests.unit.provision_app import provision_app

SECRET = "hunter2-s3cr3t"


def _masked_names() -> list[str]:
    """Every name the masking list matches, its optional separators spelled each way."""
    names: list[str] = []
    for alternative in _CREDENTIAL_NAMES.split("|"):
        optional = re.fullmatch(r"(\w+)\[-_\]\?(\w+)", alternative)
        names += [f"{optional[1]}{sep}{optional[2]}" for sep in ("-", "_", "")] if optional else [alternative]
    return names


def _site(out: Path) -> str:
    names = _masked_names()
    facts = {
        "getent_passwd": {"root": ["x", "0", "0", "root", "/root", "/bin/bash"]},
        "packages": {"base-passwd": [{"name": "base-passwd", "version": "3.6.1"}]},
        "by_name": {name: {"inner": [1, {"deeper": "ok"}]} for name in names},
        "as_lists": {f"{name}_list": [name, {"x": 1}] for name in names},
        "numbers": {name: 123456 for name in names},
        "secrets": {name: SECRET for name in names},
        "files": {f"{name}_file": f"/etc/kprov/{name}.pem" for name in names},
    }
    tasks = [
        {"name": "facts with every masked name", "set_fact": facts},
        {"name": "the host's users", "getent": {"database": "passwd"}},
        {"name": "the host's packages", "package_facts": {}},
        {"name": "a command prints a secret", "command": f"echo password={SECRET}", "register": "said",
         "changed_when": False},
        {"copy": {"dest": str(out / "done"), "content": "{{ by_name | to_json }}\n"}},
    ]
    return yaml.safe_dump([{"hosts": "all", "gather_facts": False, "tasks": tasks}], sort_keys=False)


def test_apply_json_parses_and_shows_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    here:\n      ansible_connection: local\n")
    (tmp_path / "site.yml").write_text(_site(out))
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    result = CliRunner().invoke(provision_app(), ["apply", "--json", "-i", str(tmp_path / "hosts.yml"),
                                         str(tmp_path / "site.yml")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # the whole output, one JSON document
    assert SECRET not in result.stdout and "123456" not in result.stdout
    [facts_result] = [r for r in doc["results"] if r["task"] == "facts with every masked name"]
    facts = facts_result["result"]["ansible_facts"]
    names = _masked_names()
    assert facts["getent_passwd"]["root"][0] == "x"
    assert facts["packages"]["base-passwd"][0]["name"] == "base-passwd"
    assert all(facts["by_name"][name] == {"inner": [1, {"deeper": "ok"}]} for name in names)
    assert all(facts["secrets"][name] == REDACTED and facts["numbers"][name] == REDACTED for name in names)
    # paths name a credential, they are not one
    assert all(facts["files"][f"{name}_file"].startswith("/etc/kprov/") for name in names)
    [users] = [r for r in doc["results"] if r["task"] == "the host's users"]
    assert users["result"]["ansible_facts"]["getent_passwd"]["root"][4] == "/root"
    [packages] = [r for r in doc["results"] if r["task"] == "the host's packages"]
    assert "base-passwd" in packages["result"]["ansible_facts"]["packages"]  # a Debian host's own
    [said] = [r for r in doc["results"] if r["task"] == "a command prints a secret"]
    assert said["result"]["stdout"] == f"password={REDACTED}"


def test_redact_data_keeps_structure_under_credential_names() -> None:
    data = {"getent_passwd": {"a": ["x"]}, "token": "abc", "password": 42, "enabled_password": True,
            "private_key": "/etc/ssl/k.pem", "note": "token=abc"}
    assert redact_data(data) == {"getent_passwd": {"a": ["x"]}, "token": REDACTED, "password": REDACTED,
                                 "enabled_password": True, "private_key": "/etc/ssl/k.pem",
                                 "note": f"token={REDACTED}"}


@pytest.mark.parametrize(("playbook", "line", "text"), [
    ("- hosts: all\n  tasks:\n    - debug: msg=ok\n    - no_such_module_here: {}\n", 4, "unknown module"),
    ("- hosts: all\n  tasks:\n    - debug: {msg: [unclosed\n", 4, "invalid YAML"),  # the end of input
])
def test_apply_json_on_a_broken_playbook_is_one_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, playbook: str, line: int, text: str
) -> None:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    here:\n      ansible_connection: local\n")
    (tmp_path / "site.yml").write_text(playbook)
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    result = CliRunner().invoke(provision_app(), ["apply", "--json", "-i", str(tmp_path / "hosts.yml"),
                                         str(tmp_path / "site.yml")], catch_exceptions=False)
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["results"] == []
    assert text in doc["error"]["msg"] and doc["errors"] == [doc["error"]["msg"]]
    assert doc["error"]["file"].endswith("site.yml") and doc["error"]["line"] == line


def test_apply_json_shows_task_names_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A role whose name ends in a credential word: ``role : task`` is a label, not ``name: value``."""
    role = tmp_path / "roles" / "demo.htpasswd" / "tasks"
    role.mkdir(parents=True)
    (role / "main.yml").write_text("- name: Ensure the packages are present\n  debug: {msg: 'token=abc'}\n")
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    here:\n      ansible_connection: local\n")
    (tmp_path / "site.yml").write_text("- hosts: all\n  gather_facts: false\n  roles: [demo.htpasswd]\n")
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    result = CliRunner().invoke(provision_app(), ["apply", "--json", "-i", str(tmp_path / "hosts.yml"),
                                                  str(tmp_path / "site.yml")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [shown] = json.loads(result.stdout)["results"]
    assert shown["task"] == "demo.htpasswd : Ensure the packages are present"
    assert shown["result"]["msg"] == f"token={REDACTED}"  # the data stays redacted
