"""keepalived's checks on the API VIP (issue 76, decision 0060 round 3).

The check that puts a host in FAULT (leaves the VIP) must reflect that host's own ability to
serve: its HAProxy accepts on the VIP's port and it reaches a majority of the control-plane
hosts. Whether an API server is *ready* fails on every host at once during an etcd election,
so it only lowers the priority (a weighted track script). The rendered script is run with
``bash`` against real listeners on loopback addresses standing for this host and its peers.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.provision.templates import TemplateEngine

ROLES = Path(__file__).resolve().parents[3] / "roles"


def _defaults(role: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()))


def _render(template: str, host: dict[str, Any]) -> str:
    layers: list[tuple[Mapping[str, Any], bool]] = [
        (host, True), (_defaults("keepalived"), True), (_defaults("kprov_defaults"), True)]
    scope = TemplateEngine().scope(layers)
    return str(scope.render((ROLES / "keepalived" / "templates" / template).read_text(), template))


def _host(port: int, peers: list[str]) -> dict[str, Any]:
    return {"inventory_hostname": "h1", "groups": {"control_plane": ["h1", "h2", "h3"]},
            "kprov_apiserver_vip_port": port, "keepalived_peers": peers, "kprov_node_ip": "127.0.0.1",
            "apiserver_vip": "10.77.4.10",
            "ansible_default_ipv4": {"interface": "eth0"}}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _listening(addresses: list[str], port: int) -> Iterator[None]:
    """Sockets that accept and close at once: a HAProxy whose backends are all down does that
    (no API server ready anywhere), curl then fails its TLS handshake."""
    servers = []
    for address in addresses:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((address, port))
        server.listen(16)
        servers.append(server)

    def serve(server: socket.socket) -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.close()

    threads = [threading.Thread(target=serve, args=(s,), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for server in servers:
            server.shutdown(socket.SHUT_RDWR)
            server.close()


def _run(script: str, tmp_path: Path) -> int:
    path = tmp_path / "check.sh"
    path.write_text(script)
    return subprocess.run(["bash", str(path)], capture_output=True, timeout=20).returncode


PEERS = ["127.0.0.2", "127.0.0.3"]


def _checker(tmp_path: Path, port: int, peers: list[str]) -> Path:
    host = _host(port, peers) | {"keepalived_serve_file": str(tmp_path / "serve"),
                                 "keepalived_ready_file": str(tmp_path / "ready")}
    path = tmp_path / "kprov-vipcheck"
    path.write_text(_render("kprov-vipcheck.py.j2", host))
    return path


def _once(program: Path) -> dict[str, str]:
    """One round of the rendered checker: {"serve": "0"|"1", "ready": "0"|"1"}."""
    proc = subprocess.run([sys.executable, str(program), "--once"], capture_output=True, text=True,
                          timeout=20)
    assert proc.returncode == 0, proc.stderr
    return dict(pair.split("=") for pair in proc.stdout.split())


@pytest.mark.parametrize(("listening", "serves"), [
    (["127.0.0.1", "127.0.0.2", "127.0.0.3"], True),   # every API server unready: still serves
    (["127.0.0.1", "127.0.0.3"], True),                # one peer gone: 2 of 3 is a majority
    (["127.0.0.1"], False),                            # cut off from every peer
    (["127.0.0.2", "127.0.0.3"], False),               # its own HAProxy down
])
def test_the_serve_check_is_the_hosts_own_ability(listening: list[str], serves: bool, tmp_path: Path) -> None:
    port = _free_port()
    program = _checker(tmp_path, port, PEERS)
    with _listening(listening, port):
        assert _once(program)["serve"] == ("0" if serves else "1")


def test_a_lone_control_plane_host_needs_no_peer(tmp_path: Path) -> None:
    port = _free_port()
    program = _checker(tmp_path, port, [])
    with _listening(["127.0.0.1"], port):
        assert _once(program)["serve"] == "0"
    assert _once(program)["serve"] == "1"  # nothing listens: no HAProxy


def test_five_control_plane_hosts_need_two_peers(tmp_path: Path) -> None:
    port = _free_port()
    program = _checker(tmp_path, port, ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"])
    with _listening(["127.0.0.1", "127.0.0.4"], port):
        assert _once(program)["serve"] == "1"  # 2 of 5
    with _listening(["127.0.0.1", "127.0.0.4", "127.0.0.5"], port):
        assert _once(program)["serve"] == "0"  # 3 of 5


def test_the_readiness_check_fails_without_a_ready_api_server(tmp_path: Path) -> None:
    port = _free_port()
    program = _checker(tmp_path, port, PEERS)
    with _listening(["127.0.0.1", *PEERS], port):
        assert _once(program) == {"serve": "0", "ready": "1"}


def _wait_for(path: Path, value: str, within_s: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within_s:
        if path.exists() and path.read_text().strip() == value:
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{path.name} did not become {value} within {within_s} s "
                         f"(it says {path.read_text().strip() if path.exists() else 'nothing'})")


def test_the_running_checker_keeps_the_files_keepalived_tracks(tmp_path: Path) -> None:
    """The long-running checker: the files say what the rounds find, a host cut off from its
    peers counts after `fall` rounds (not at once), and stopping it leaves the serve file failing."""
    port = _free_port()
    program = _checker(tmp_path, port, PEERS)
    serve = tmp_path / "serve"
    with _listening(["127.0.0.1"], port):
        with _listening(PEERS, port):
            checker = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.DEVNULL)
            try:
                _wait_for(serve, "0", 10)
                _wait_for(tmp_path / "ready", "1", 10)
            except BaseException:
                checker.kill()
                raise
        try:
            # the peers are gone: the host no longer serves, after two failed rounds
            took = _wait_for(serve, "1", 10)
            assert took > 0.9, f"a single failed round changed the state ({took:.2f} s)"
            checker.terminate()
            assert checker.wait(timeout=10) == 0
        finally:
            checker.kill()
    assert serve.read_text().strip() == "1"


def test_its_own_haproxy_refusing_counts_at_once(tmp_path: Path) -> None:
    """A refused connection to this host's HAProxy (killed, stopped) is no slow round: the
    state changes without waiting `fall` rounds (here 100)."""
    port = _free_port()
    host = _host(port, PEERS) | {"keepalived_serve_file": str(tmp_path / "serve"),
                                 "keepalived_ready_file": str(tmp_path / "ready"),
                                 "keepalived_vipcheck_fall": 100}
    program = tmp_path / "kprov-vipcheck"
    program.write_text(_render("kprov-vipcheck.py.j2", host))
    serve = tmp_path / "serve"
    with _listening(PEERS, port):
        checker = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.DEVNULL)
        try:
            with _listening(["127.0.0.1"], port):
                _wait_for(serve, "0", 10)
            _wait_for(serve, "1", 10)
        finally:
            checker.kill()
            checker.wait(timeout=10)


def _blocks(config: str, kind: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(kind + r"\s+(\S+)\s*\{(.*?)\n\}", config, re.S)}


def test_only_the_serve_checks_can_fault_the_host() -> None:
    host = _host(6443, PEERS)
    config = _render("keepalived.conf.j2", host)
    assert "vrrp_script" not in config and "track_script" not in config  # nothing spawned per check
    files = _blocks(config.split("vrrp_instance", 1)[0], "track_file")
    tracked = re.search(r"track_file\s*\{([^}]*)\}", config.split("vrrp_instance", 1)[1])
    assert tracked is not None and set(tracked.group(1).split()) == set(files)
    by_path = {re.search(r"file\s+(\S+)", body).group(1): body  # type: ignore[union-attr]
               for body in files.values()}
    defaults = _defaults("keepalived")
    serve = by_path[defaults["keepalived_serve_file"]]
    ready = by_path[defaults["keepalived_ready_file"]]
    assert re.search(r"weight\s+0\b", serve)  # a non-zero value is FAULT
    weight = re.search(r"weight\s+(-?\d+)", ready)
    assert weight is not None and int(weight.group(1)) < 0
    # a host without a ready API server ranks below every control-plane host with one
    priorities = [150 - i for i in range(len(host["groups"]["control_plane"]))]
    assert -int(weight.group(1)) > max(priorities) - min(priorities)


def test_the_role_installs_the_checker_and_teardown_removes_it() -> None:
    tasks = (ROLES / "keepalived" / "tasks" / "main.yml").read_text()
    for template in ("kprov-vipcheck.py.j2", "kprov-vipcheck.service.j2"):
        assert template in tasks
    for teardown in ("reset.yml", "remove-node.yml"):
        text = (ROLES / teardown).read_text()
        assert "disable --now kprov-vipcheck" in text and "/etc/keepalived/kprov-vipcheck" in text, teardown
