"""The connection keeper (ControlPersist for the paramiko transport): its wire, its settings,
and the keeper itself serving runs in this process, holding scripted connectors."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from pathlib import Path

import pytest

from kprov.provision.connect import CommandResult, CommandTimeoutError, UnreachableError, connector_for
from kprov.provision.connect.fake import FakeConnector
from kprov.provision.connect.persist import (
    PersistentSSHConnector,
    install_id,
    keeper_name,
    keeper_path,
    keeper_socket,
    stop_keeper,
)
from kprov.provision.connect.persist_daemon import ConnectionKeeper
from kprov.provision.connect.persist_wire import WireClosed, receive, send
from kprov.provision.connect.settings import ConnectionSettings, SettingsError
from kprov.provision.connect.ssh import SSHConnector


def settings(host_vars: dict, environ: dict | None = None) -> ConnectionSettings:
    return ConnectionSettings.from_host_vars("h1", {"ansible_host": "10.0.0.5", **host_vars},
                                             environ=environ or {})


# -- settings --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host_vars,environ,expected",
    [
        ({}, {}, 60.0),  # Ansible's ssh default: ControlPersist=60s
        ({"ansible_ssh_common_args": "-o ControlPersist=10m"}, {}, 600.0),
        ({"ansible_ssh_common_args": "-o ControlPersist=0"}, {}, float("inf")),  # OpenSSH: 0 = forever
        ({"ansible_ssh_common_args": "-o ControlPersist=yes"}, {}, float("inf")),
        ({"ansible_ssh_extra_args": "-o ControlMaster=no -o ControlPersist=60s"}, {}, 0.0),
        ({"ansible_ssh_common_args": "-o ControlPersist=10m"}, {"KPROV_CONTROL_PERSIST": "0"}, 0.0),
        ({"kprov_control_persist": "1h30m"}, {"KPROV_CONTROL_PERSIST": "0"}, 5400.0),
        ({"kprov_control_persist": False}, {}, 0.0),
        ({"kprov_control_persist": 0}, {}, 0.0),  # as a kprov setting 0 is off
    ],
)
def test_control_persist_from_vars_environment_and_ssh_args(
    host_vars: dict, environ: dict, expected: float
) -> None:
    assert settings(host_vars, environ).control_persist == expected


def test_a_bad_control_persist_names_the_host_and_variable() -> None:
    with pytest.raises(SettingsError, match=r"host h1: kprov_control_persist: 'soon' is not a time"):
        settings({"kprov_control_persist": "soon"})


def test_the_ssh_transport_goes_through_the_keeper_unless_persistence_is_off() -> None:
    assert isinstance(connector_for("h1", {"ansible_host": "10.0.0.5"}), PersistentSSHConnector)
    direct = connector_for("h1", {"ansible_host": "10.0.0.5", "kprov_control_persist": "no"})
    assert isinstance(direct, SSHConnector)


# -- wire ------------------------------------------------------------------------------------
def test_wire_carries_a_header_and_binary_blobs_unchanged() -> None:
    left, right = socket.socketpair()
    with left, right:
        blobs = [bytes(range(256)) * 1000, b"", b"\x00\xff"]
        sender = threading.Thread(target=send, args=(left, {"op": "run", "cmd": "cat"}, blobs))
        sender.start()  # (more than a socket buffer: it waits for the reader)
        header, got = receive(right)
        sender.join()
        assert header == {"op": "run", "cmd": "cat"}
        assert got == blobs
        left.close()
        with pytest.raises(WireClosed):
            receive(right)


def test_wire_refuses_a_header_too_large() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall((1 << 30).to_bytes(4, "big"))
        with pytest.raises(WireClosed, match="refused"):
            receive(right)


# -- the keeper ------------------------------------------------------------------------------
class CountingFake(FakeConnector):
    """A scripted host that counts its sessions and says whether one is open."""

    def __init__(self, host: str, opened: list[str]) -> None:
        super().__init__(host=host)
        self.opened = opened
        self.is_open = False
        self.on(r"^echo ", stdout="hello\n")
        self.on(r"^sleep ", answer=self._sleep)

    def _sleep(self, cmd: str, stdin: bytes | None) -> CommandResult:
        raise CommandTimeoutError(self.host, "command timed out after 0.1 s")

    def connect(self) -> None:
        if not self.is_open:
            self.opened.append(self.host)
            self.is_open = True

    def close(self) -> None:
        self.is_open = False

    def responsive(self, timeout: float) -> bool:
        return self.is_open


@pytest.fixture
def keeper(tmp_path: Path):
    directory = tmp_path / "cp"
    directory.mkdir(mode=0o700)
    opened: list[str] = []
    fakes: dict[str, CountingFake] = {}

    def factory(host: str, _settings: ConnectionSettings) -> CountingFake:
        fakes[host] = CountingFake(host, opened)
        return fakes[host]

    server = ConnectionKeeper(keeper_path(directory), factory)
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not keeper_path(directory).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    yield directory, opened, fakes, thread
    stop_keeper(directory)
    thread.join(5)


def persistent(directory: Path, host: str = "h1", **host_vars: object) -> PersistentSSHConnector:
    return PersistentSSHConnector(host, settings(dict(host_vars)), directory)


def test_a_second_run_reuses_the_held_session(keeper) -> None:
    directory, opened, fakes, _ = keeper
    first = persistent(directory)
    first.connect()
    assert first.run("echo hi").stdout == "hello\n"
    first.close()
    second = persistent(directory)
    second.connect()
    assert (first.reused, second.reused) == (False, True)
    assert second.run("echo again", become=True).stdout == "hello\n"
    assert opened == ["h1"]  # one session for both runs
    assert [c.cmd for c in fakes["h1"].commands] == ["echo hi", "echo again"]
    assert fakes["h1"].commands[1].become is True
    second.close()


def test_different_settings_never_share_a_session(keeper) -> None:
    directory, opened, _, _ = keeper
    for password in ("one", "two"):
        conn = persistent(directory, ansible_become_password=password)
        conn.connect()
        conn.close()
    assert opened == ["h1", "h1"]


def test_files_and_errors_cross_the_keeper_as_the_direct_transport_raises_them(keeper) -> None:
    directory, _, fakes, _ = keeper
    conn = persistent(directory)
    payload = bytes(range(256)) * 4096
    conn.put(payload, "/etc/blob", mode=0o600, owner="root")
    assert fakes["h1"].files["/etc/blob"] == payload
    assert fakes["h1"].puts[0].mode == 0o600 and fakes["h1"].puts[0].owner == "root"
    assert conn.get("/etc/blob") == payload
    with pytest.raises(FileNotFoundError):
        conn.get("/missing")
    with pytest.raises(CommandTimeoutError, match="timed out"):
        conn.run("sleep 10", timeout=0.1)
    conn.close()


def test_a_session_that_stopped_answering_is_opened_again(keeper) -> None:
    directory, opened, fakes, _ = keeper
    conn = persistent(directory)
    conn.connect()
    conn.close()
    fakes["h1"].is_open = False  # the host went away meanwhile
    again = persistent(directory)
    again.connect()
    assert again.reused is False and opened == ["h1", "h1"]
    again.close()


def test_reset_connection_opens_a_new_session(keeper) -> None:
    directory, opened, _, _ = keeper
    conn = persistent(directory)
    conn.connect()
    conn.reset()
    assert opened == ["h1", "h1"]
    conn.close()


def test_an_unreachable_host_is_reported_unreachable(keeper) -> None:
    directory, _, _, _ = keeper

    class Down(FakeConnector):
        def connect(self) -> None:
            raise UnreachableError(self.host, "cannot connect to root@10.0.0.5:22 after 3 attempts")

    server = ConnectionKeeper(directory / "other.sock", lambda host, _s: Down(host=host))
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()

    def ask(header: dict) -> dict:
        # as keeper_socket does: the socket file exists from bind(), connections from listen()
        deadline = time.monotonic() + 5
        while True:
            with socket.socket(socket.AF_UNIX) as sock:
                try:
                    sock.connect(str(directory / "other.sock"))
                except (FileNotFoundError, ConnectionRefusedError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
                    continue
                send(sock, header)
                return receive(sock)[0]

    reply = ask({"op": "open", "settings": {"host_name": "h9", "connect_timeout": 1}, "persist": 60})
    assert reply == {"error": "unreachable", "message": "cannot connect to root@10.0.0.5:22 after 3 attempts"}
    ask({"op": "shutdown"})
    thread.join(5)
    assert not thread.is_alive()


def test_idle_sessions_close_after_their_persist_time_and_the_keeper_ends(keeper) -> None:
    directory, _, fakes, thread = keeper
    conn = persistent(directory, kprov_control_persist="0.5")
    conn.connect()
    conn.close()
    thread.join(5)  # reaped within a second or two of the last use, then nothing is left
    assert not thread.is_alive()
    assert fakes["h1"].is_open is False
    assert not keeper_path(directory).exists()


def test_the_socket_is_private_and_a_shared_directory_is_refused(keeper, tmp_path: Path) -> None:
    directory, _, _, _ = keeper
    assert stat.S_IMODE(os.stat(keeper_path(directory)).st_mode) == 0o600
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with pytest.raises(PermissionError, match="mode 0700"):
        keeper_socket(shared)


# -- one keeper per installed kprov ----------------------------------------------------------
def test_each_installed_kprov_has_its_own_keeper() -> None:
    import importlib.metadata
    import sys

    import kprov

    here = install_id(Path(kprov.__file__).resolve().parent, importlib.metadata.version("kprov"), sys.prefix)
    assert keeper_name() == f"keeper-{here}"
    assert keeper_path(Path("/d")) == Path(f"/d/keeper-{here}.sock")
    tree = Path("/work/a/kprov")
    venv = "/work/a/.venv"
    ids = {install_id(tree, "0.1.0", venv), install_id(Path("/work/b/kprov"), "0.1.0", venv),
           install_id(tree, "0.2.0", venv), install_id(tree, "0.1.0", "/usr")}
    assert len(ids) == 4  # another tree, version or environment: another keeper
    assert install_id(tree, "0.1.0", venv) in ids  # and the same install: the same one


def test_a_keeper_of_another_tree_in_the_same_directory_is_never_used(keeper) -> None:
    directory, opened, _, thread = keeper
    theirs: list[str] = []
    other = ConnectionKeeper(directory / "keeper-0123456789abcdef.sock",
                             lambda host, _s: CountingFake(host, theirs))
    other_thread = threading.Thread(target=other.serve, daemon=True)
    other_thread.start()
    conn = persistent(directory)
    assert conn.run("echo hi").stdout == "hello\n"
    conn.close()
    assert len(opened) == 1 and theirs == []  # the run reached this kprov's keeper only
    assert stop_keeper(directory)  # stops this kprov's keeper, not the other tree's
    thread.join(5)
    assert not thread.is_alive() and other_thread.is_alive()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(directory / "keeper-0123456789abcdef.sock"))
        send(sock, {"op": "shutdown"})
        receive(sock)
    other_thread.join(5)
    assert not other_thread.is_alive()
