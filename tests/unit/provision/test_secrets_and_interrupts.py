"""Secrets never printed and interrupts that end a run honestly, through the real CLI on the
local connection (a temp dir on this machine): ``plan --diff``/``apply --diff`` of a private
key say only "content changed (secret)", no_log hides a task's output, the run log is 0600
and redacted; SIGINT mid-run stops scheduling, prints "interrupted" and the recap, exits
130 and the log does not end ok=True; an interrupted wheelhouse build leaves no staging
directory in the cache."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kprov.provision.execute.interrupt import Interrupt, catching_signals
from kprov.provision.redact import SECRET_DIFF, is_secret_file, redact_data, redact_text
from tests.unit.provision_app import provision_app

KEY = (
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "-----END PRIVATE KEY-----\n"
)
KEY_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"


def _tree(tmp_path: Path, site: str) -> list[str]:
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    here:\n      ansible_connection: local\n")
    (tmp_path / "site.yml").write_text(site)
    (tmp_path / "files").mkdir(exist_ok=True)
    (tmp_path / "files" / "server.key").write_text(KEY)
    (tmp_path / "files" / "admin.conf").write_text(
        "users:\n- name: admin\n  user:\n"
        "    client-key-data: TUlJRXZRSUJBREFOQmdr\n    token: abcdef.0123456789abcdef\n"
    )
    return ["-i", str(tmp_path / "hosts.yml"), str(tmp_path / "site.yml")]


def _invoke(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    return CliRunner().invoke(provision_app(), args, catch_exceptions=False)


def _log(tmp_path: Path) -> Path:
    [log] = sorted((tmp_path / "logs").glob("run-*.log"))
    return log


SECRET_SITE = """
- hosts: all
  gather_facts: false
  tasks:
    - name: place the key
      copy: {{src: server.key, dest: "{out}/server.key", mode: "0600"}}
    - name: place a kubeconfig
      copy: {{src: admin.conf, dest: "{out}/admin.conf", mode: "0600"}}
    - name: a secret command
      command: echo password=hunter2
      no_log: true
    - name: a failing secret command
      command: "sh -c 'echo token=s3cr3t-value >&2; exit 3'"
      ignore_errors: true
"""


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_diffs_logs_and_messages_carry_no_key_material(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       command: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = _tree(tmp_path, SECRET_SITE.format(out=out))
    argv = [command, "--diff", *args] if command == "apply" else [command, *args]
    result = _invoke(argv, tmp_path, monkeypatch)
    text = result.output
    assert SECRET_DIFF in text and "server.key" in text
    for secret in (KEY_LINE, "PRIVATE KEY", "TUlJRXZRSUJBREFOQmdr", "0123456789abcdef", "hunter2", "s3cr3t"):
        assert secret not in text
    log = _log(tmp_path)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert "hunter2" not in log.read_text() and "s3cr3t" not in log.read_text()
    if command == "apply":
        assert "(hidden: no_log)" in log.read_text()  # the no_log task's command ran, its text not logged
        assert (out / "server.key").read_text() == KEY  # redaction is of output only
        assert "FAILED" in text or "failed" in text
    json_out = _invoke([command, "--json", *args], tmp_path, monkeypatch).output
    for secret in (KEY_LINE, "hunter2", "s3cr3t", "TUlJRXZRSUJBREFOQmdr"):
        assert secret not in json_out


def test_redaction_rules() -> None:
    assert redact_text(f"before {KEY} after").startswith("before <private key ********>")
    assert redact_text("--etcd-keyfile=/etc/k.key --token-auth-file=/etc/t.csv") == (
        "--etcd-keyfile=/etc/k.key --token-auth-file=/etc/t.csv")  # file names are not secrets
    assert redact_text('{"password": "x1", "secret_name": "kept"}') == (
        '{"password": "********", "secret_name": "kept"}')
    assert is_secret_file("/etc/kprov/pki/sa.key", None)
    assert is_secret_file("/x.conf", "client-key-data: QUJD\n")
    assert not is_secret_file("/x.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    assert redact_data({"token": "abc", "items": [KEY]}) == {
        "token": "********", "items": ["<private key ********>\n"]}


INTERRUPT_SITE = """
- hosts: all
  gather_facts: false
  tasks:
    - name: first
      command: "sh -c 'kill -INT {pid}; sleep 1; echo done'"
      notify: restart something
    - name: second
      command: touch {out}/second
  handlers:
    - name: restart something
      command: touch {out}/handler
"""


def test_sigint_stops_scheduling_prints_recap_and_exits_130(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = _tree(tmp_path, INTERRUPT_SITE.format(pid=os.getpid(), out=out))
    before = signal.getsignal(signal.SIGINT)
    result = _invoke(["apply", *args], tmp_path, monkeypatch)
    assert result.exit_code == 130
    assert "interrupted" in result.output and "PLAY RECAP" in result.output
    assert "UNREACHABLE" not in result.output and "no session" not in result.output
    assert not (out / "second").exists() and not (out / "handler").exists()
    log = _log(tmp_path).read_text().splitlines()
    assert "run interrupted by SIGINT" in "\n".join(log)
    assert log[-1].endswith("ok=False")
    assert signal.getsignal(signal.SIGINT) is before  # the run's handler is gone again


def test_second_signal_raises_and_handlers_are_restored() -> None:
    interrupt = Interrupt()
    before = signal.getsignal(signal.SIGTERM)
    with catching_signals(interrupt):
        os.kill(os.getpid(), signal.SIGTERM)
        assert interrupt.is_set() and interrupt.signal_name == "SIGTERM"
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before
    raising = Interrupt()
    with catching_signals(raising), pytest.raises(KeyboardInterrupt), raising.raising():
        os.kill(os.getpid(), signal.SIGINT)  # operator-side work stops at once


def test_interrupted_wheelhouse_build_leaves_no_staging(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from kprov.bundle import wheelhouse

    def interrupted(*args: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(wheelhouse, "_pip", interrupted)
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(KeyboardInterrupt):
        wheelhouse._build(tmp_path, cache, "d1g3st", cache / "kprov-wheelhouse-d1g3st.tar.gz")
    assert sorted(p.name for p in cache.iterdir()) == ["deps"]
