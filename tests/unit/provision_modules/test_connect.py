"""Connection settings from inventory vars, become wrapping, atomic placement, local and fake
connectors (the local one against a temp dir on this machine)."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from kprov.provision.connect import CommandTimeoutError, UnreachableError, connector_for
from kprov.provision.connect.fake import FakeConnector, UnscriptedCommand
from kprov.provision.connect.local import LocalConnector
from kprov.provision.connect.session import frame_end
from kprov.provision.connect.settings import ConnectionSettings, JumpHost, SettingsError
from kprov.provision.connect.shell import finalize_script, wrap_command
from kprov.provision.connect.ssh import SSHConnector


def settings(host_vars: dict, environ: dict | None = None) -> ConnectionSettings:
    return ConnectionSettings.from_host_vars("h1", host_vars, environ=environ or {})


def test_ssh_settings_from_ansible_vars() -> None:
    s = settings(
        {
            "ansible_host": "10.0.0.5",
            "ansible_port": "2222",
            "ansible_user": "deploy",
            "ansible_ssh_private_key_file": "~/k",
            "ansible_become_password": "pw",
            "ansible_ssh_timeout": 3,
        }
    )
    assert (s.transport, s.address, s.port, s.user) == ("ssh", "10.0.0.5", 2222, "deploy")
    assert s.key_file == os.path.expanduser("~/k")
    assert s.become_password == "pw"
    assert s.connect_timeout == 3.0
    assert s.host_key_checking is True


@pytest.mark.parametrize(
    "host_vars,environ",
    [
        ({"ansible_ssh_common_args": "-o StrictHostKeyChecking=no"}, {}),
        ({"ansible_ssh_extra_args": "-oStrictHostKeyChecking=no"}, {}),
        ({"kprov_host_key_checking": "false"}, {}),
        ({}, {"KPROV_HOST_KEY_CHECKING": "False"}),
        ({}, {"ANSIBLE_HOST_KEY_CHECKING": "no"}),
    ],
)
def test_host_key_checking_opt_outs(host_vars: dict, environ: dict) -> None:
    assert settings(host_vars, environ).host_key_checking is False


def test_jump_host_from_proxyjump_and_var() -> None:
    s = settings({"ansible_ssh_common_args": "-o ProxyJump=ops@bastion:2200"})
    assert s.jump == JumpHost("bastion", 2200, "ops")
    assert settings({"ansible_ssh_common_args": "-J bastion"}).jump == JumpHost("bastion", 22, None)
    assert settings({"kprov_jump_host": "root@10.1.1.1"}).jump == JumpHost("10.1.1.1", 22, "root")


def test_local_transport_choice_and_bad_values() -> None:
    assert settings({"ansible_connection": "local"}).transport == "local"
    assert ConnectionSettings.from_host_vars("localhost", {}, environ={}).transport == "local"
    assert isinstance(connector_for("localhost", {"ansible_connection": "local"}), LocalConnector)
    with pytest.raises(SettingsError, match="ansible_connection='winrm'"):
        settings({"ansible_connection": "winrm"})
    with pytest.raises(SettingsError, match="kprov_host_key_checking"):
        settings({"kprov_host_key_checking": "maybe"})
    with pytest.raises(SettingsError, match="ProxyCommand"):
        settings({"ansible_ssh_common_args": "-o ProxyCommand='nc %h %p'"})


def test_become_wrapping() -> None:
    assert (
        wrap_command("id", login_user="root", become=True, become_user=None, sudo_password=False)
        == "/bin/sh -c id"
    )
    assert wrap_command(
        "id", login_user="root", become=True, become_user="nobody", sudo_password=False
    ).startswith("runuser -u nobody -- ")
    assert (
        wrap_command("echo 'a b'", login_user="deploy", become=True, become_user=None, sudo_password=False)
        == "sudo -H -n -u root -- /bin/sh -c 'echo '\"'\"'a b'\"'\"''"
    )
    assert "-S -p ''" in wrap_command(
        "id", login_user="deploy", become=True, become_user=None, sudo_password=True
    )
    assert (
        wrap_command("id", login_user="deploy", become=False, become_user=None, sudo_password=True)
        == "/bin/sh -c id"
    )


def test_finalize_keeps_existing_mode_and_renames(tmp_path) -> None:
    dest = tmp_path / "target"
    dest.write_text("old")
    dest.chmod(0o640)
    staged = tmp_path / ".target.kprov-1"
    staged.write_text("new")
    subprocess.run(["/bin/sh", "-c", finalize_script(str(staged), str(dest))], check=True)
    assert dest.read_text() == "new"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert not staged.exists()


def test_local_connector_run_put_get(tmp_path) -> None:
    conn = LocalConnector()
    result = conn.run("cat; echo err >&2; exit 4", stdin=b"in")
    assert (result.rc, result.stdout, result.stderr) == (4, "in", "err\n")
    path = str(tmp_path / "f")
    conn.put(b"one", path, mode=0o600)
    assert conn.get(path) == b"one"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    conn.put(b"two", path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, "an existing file keeps its mode"
    assert sorted(os.listdir(tmp_path)) == ["f"], "no temp file is left behind"
    with pytest.raises(FileNotFoundError):
        conn.get(str(tmp_path / "missing"))
    with pytest.raises(CommandTimeoutError):
        conn.run("sleep 5", timeout=0.2)


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
def test_local_connector_become_user() -> None:
    assert LocalConnector().run("id -un", become=True, become_user="nobody").stdout.strip() == "nobody"


def test_fake_connector_scripts_and_records() -> None:
    fake = FakeConnector(host="h9")
    fake.on(r"^uptime", stdout="up", times=1)
    assert fake.run("uptime", become=True).stdout == "up"
    assert fake.commands[0].become is True
    with pytest.raises(UnscriptedCommand, match="uptime"):
        fake.run("uptime")
    fake.put(b"x", "/etc/a", mode=0o600)
    assert fake.get("/etc/a") == b"x" and fake.puts[0].mode == 0o600
    with pytest.raises(UnreachableError):
        FakeConnector(unreachable=True).run("true")


def test_persistent_shell_frame_parsing() -> None:
    token = b"0123abcd"
    assert frame_end(b"output0123abcd:0", token) is None, "rc line not complete yet"
    assert frame_end(b"output0123abcd:17\n", token) == 17
    assert frame_end(b"out0123abcd:3\nstray from a background job", token) == 3
    assert frame_end(b"no token here\n", token) is None


@pytest.mark.parametrize("sudo_n_rc,expect_password", [(1, True), (0, False)])
def test_ssh_sudo_password_only_when_sudo_asks(
    monkeypatch: pytest.MonkeyPatch, sudo_n_rc: int, expect_password: bool
) -> None:
    conn = SSHConnector("h1", settings({"ansible_user": "deploy", "ansible_become_password": "s3cret"}))
    probes: list[str] = []
    sent: list[tuple[str, bytes | None]] = []

    def exec_channel(
        line: str, stdin: bytes | None, timeout: float | None
    ) -> tuple[int, bytes, bytes, float]:
        probes.append(line)
        return sudo_n_rc, b"", b"", 0.0

    def shell(line: str, stdin: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes, float]:
        sent.append((line, stdin))
        return 0, b"", b"", 0.0

    monkeypatch.setattr(conn, "_exec", exec_channel)
    monkeypatch.setattr(conn, "_run_line", shell)
    conn.run("cat", become=True, stdin=b"data")
    conn.run("id", become=True)
    conn.run("id")
    assert probes == ["sudo -n true"], "sudo is probed once per connection"
    (first_line, first_stdin), (_, second_stdin), (plain_line, plain_stdin) = sent
    if expect_password:
        assert first_line.startswith("sudo -H -k -S -p ''") and first_stdin == b"s3cret\ndata"
        assert second_stdin == b"s3cret\n"
    else:
        assert first_line.startswith("sudo -H -n") and first_stdin == b"data" and second_stdin is None
    assert plain_line == "/bin/sh -c id" and plain_stdin is None, "no sudo without become"


def test_opening_a_session_waits_for_sshds_session_stack_longer_than_connecting(monkeypatch) -> None:
    """A slow PAM session (pam_motd running a role's update-motd script) is waited for as
    OpenSSH waits; ``connect_timeout`` (Ansible's ``timeout``) only bounds reaching the host."""
    from kprov.provision.connect import ssh as ssh_module
    from kprov.provision.connect.session import PersistentShell
    from kprov.provision.connect.sshlib import paramiko

    asked: list[float] = []

    class Transport:
        def open_session(self, timeout: float) -> None:
            asked.append(timeout)
            raise paramiko.SSHException("stop here")

    connector = SSHConnector("h1", settings({"ansible_host": "10.0.0.5", "ansible_ssh_timeout": 3}))
    monkeypatch.setattr(connector, "_transport", lambda: Transport())
    with pytest.raises(UnreachableError):
        connector._exec("true", None, None)
    with pytest.raises(paramiko.SSHException):
        PersistentShell(Transport(), ssh_module.SESSION_OPEN_TIMEOUT_S)  # type: ignore[arg-type]
    assert asked[0] == ssh_module.SESSION_OPEN_TIMEOUT_S >= 60 > 3
