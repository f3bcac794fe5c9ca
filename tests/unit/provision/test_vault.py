"""Ansible Vault: what the real ``ansible-vault`` encrypted, decrypted by kprov — ``!vault``
values, whole group_vars/vars_files/include_vars files, vault ids, wrong secrets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kprov.provision.vault import Vault, VaultError, VaultSecret, vault_secrets
from tests.unit.provision_app import provision_app

ANSIBLE_VAULT = Path(sys.executable).parent / "ansible-vault"
pytestmark = pytest.mark.skipif(not ANSIBLE_VAULT.exists() and not shutil.which("ansible-vault"),
                                reason="ansible-vault (ansible-core) is not installed")


def _vault(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run([str(ANSIBLE_VAULT), *args], capture_output=True, text=True, check=True,
                          input=stdin)
    return done.stdout


def _envelope(encrypted_string: str) -> str:
    body = encrypted_string.split("!vault |", 1)[1]
    return "\n".join(line.strip() for line in body.strip().splitlines())


def test_decrypts_what_ansible_vault_encrypted_with_ids(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("first-pass\n")
    (tmp_path / "pw2").write_text("second-pass\n")
    pw, pw2 = str(tmp_path / "pw"), str(tmp_path / "pw2")
    plain = _envelope(_vault("encrypt_string", "--vault-password-file", pw, "hello", "--name", "x"))
    labelled = _envelope(_vault("encrypt_string", "--vault-id", f"prod@{pw2}", "bye", "--name", "y"))
    assert labelled.startswith("$ANSIBLE_VAULT;1.2;AES256;prod")
    vault = Vault(vault_secrets([str(tmp_path / "pw"), f"prod@{tmp_path / 'pw2'}"]))
    assert vault.decrypt(plain, "t") == "hello" and vault.decrypt(labelled, "t") == "bye"
    with pytest.raises(VaultError, match="no vault secrets were found that could decrypt"):
        Vault([VaultSecret("default", b"wrong")]).decrypt(plain, "t")
    with pytest.raises(VaultError, match="A vault password must be specified"):
        Vault().decrypt(plain, "t")


def test_a_play_with_vaulted_values_and_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pw = tmp_path / "pw"
    pw.write_text("run-pass\n")
    out = tmp_path / "out"
    out.mkdir()
    inline = _vault("encrypt_string", "--vault-password-file", str(pw), "inline-secret", "--name", "inline")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("from_group: group-secret\n")
    (tmp_path / "extra.yml").write_text("from_include: include-secret\n")
    for name in ("group_vars/all.yml", "extra.yml"):
        _vault("encrypt", "--vault-password-file", str(pw), str(tmp_path / name))
    assert (tmp_path / "extra.yml").read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    here:\n      ansible_connection: local\n")
    vars_block = "  vars:\n" + "".join(f"    {line}\n" for line in inline.strip().splitlines())
    (tmp_path / "site.yml").write_text(
        "- hosts: all\n  gather_facts: false\n" + vars_block + "  tasks:\n"
        "    - include_vars: extra.yml\n"
        f"    - copy:\n        dest: {out}/all.txt\n"
        "        content: \"{{ inline }} {{ from_group }} {{ from_include }}\"\n")
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    args = ["apply", "--json", "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "site.yml")]
    refused = CliRunner().invoke(provision_app(), args, catch_exceptions=False)
    error = json.loads(refused.stdout)["error"]
    assert refused.exit_code == 1 and error["file"].endswith("group_vars/all.yml")
    assert "A vault password must be specified" in error["msg"]
    done = CliRunner().invoke(provision_app(), [*args, "--vault-password-file", str(pw)],
                              catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert (out / "all.txt").read_text() == "inline-secret group-secret include-secret"
    assert "run-pass" not in done.output
