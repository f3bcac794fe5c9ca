"""keepalived's checks on the API VIP (issue 76, decision 0060 round 3).

The check that puts a host in FAULT (leaves the VIP) must reflect that host's own ability to
serve: its HAProxy accepts on the VIP's port and it reaches a majority of the control-plane
hosts. Whether an API server is *ready* fails on every host at once during an etcd election,
so it only lowers the priority (a weighted track script). The rendered script is run with
``bash`` against real listeners on loopback addresses standing for this host and its peers.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import threading
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

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


@needs_curl
@pytest.mark.parametrize(("listening", "serves"), [
    (["127.0.0.1", "127.0.0.2", "127.0.0.3"], True),   # every API server unready: still serves
    (["127.0.0.1", "127.0.0.3"], True),                # one peer gone: 2 of 3 is a majority
    (["127.0.0.1"], False),                            # cut off from every peer
    (["127.0.0.2", "127.0.0.3"], False),               # its own HAProxy down
])
def test_the_serve_check_is_the_hosts_own_ability(listening: list[str], serves: bool, tmp_path: Path) -> None:
    port = _free_port()
    script = _render("kprov-vip-serve.sh.j2", _host(port, PEERS))
    with _listening(listening, port):
        assert (_run(script, tmp_path) == 0) is serves, script


@needs_curl
def test_a_lone_control_plane_host_needs_no_peer(tmp_path: Path) -> None:
    port = _free_port()
    script = _render("kprov-vip-serve.sh.j2", _host(port, []))
    with _listening(["127.0.0.1"], port):
        assert _run(script, tmp_path) == 0
    assert _run(script, tmp_path) != 0  # nothing listens: no HAProxy


@needs_curl
def test_five_control_plane_hosts_need_two_peers(tmp_path: Path) -> None:
    port = _free_port()
    peers = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
    script = _render("kprov-vip-serve.sh.j2", _host(port, peers))
    with _listening(["127.0.0.1", "127.0.0.4"], port):
        assert _run(script, tmp_path) != 0  # 2 of 5
    with _listening(["127.0.0.1", "127.0.0.4", "127.0.0.5"], port):
        assert _run(script, tmp_path) == 0  # 3 of 5


@needs_curl
def test_the_readiness_check_fails_without_a_ready_api_server(tmp_path: Path) -> None:
    port = _free_port()
    script = _render("kprov-apiserver-ready.sh.j2", _host(port, PEERS))
    with _listening(["127.0.0.1"], port):
        assert _run(script, tmp_path) != 0


def _blocks(config: str, kind: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(kind + r"\s+(\S+)\s*\{(.*?)\n\}", config, re.S)}


def test_only_the_serve_check_can_fault_the_host() -> None:
    host = _host(6443, PEERS)
    config = _render("keepalived.conf.j2", host)
    scripts = _blocks(config, "vrrp_script")
    tracked = re.search(r"track_script\s*\{([^}]*)\}", config)
    assert tracked is not None
    assert set(tracked.group(1).split()) == set(scripts)
    by_path = {re.search(r'script\s+"([^"]+)"', body).group(1): body  # type: ignore[union-attr]
               for body in scripts.values()}
    defaults = _defaults("keepalived")
    serve = by_path[defaults["keepalived_check_script"]]
    ready = by_path[defaults["keepalived_ready_script"]]
    assert "weight" not in serve  # a failing serve check is FAULT
    weight = re.search(r"weight\s+(-?\d+)", ready)
    assert weight is not None and int(weight.group(1)) < 0
    # a host without a ready API server ranks below every control-plane host with one
    priorities = [150 - i for i in range(len(host["groups"]["control_plane"]))]
    assert -int(weight.group(1)) > max(priorities) - min(priorities)


def test_the_role_installs_both_checks() -> None:
    tasks = (ROLES / "keepalived" / "tasks" / "main.yml").read_text()
    for template in ("kprov-vip-serve.sh.j2", "kprov-apiserver-ready.sh.j2"):
        assert template in tasks
    for teardown in ("reset.yml", "remove-node.yml"):
        text = (ROLES / teardown).read_text()
        assert "kprov-vip-serve.sh" in text and "kprov-apiserver-ready.sh" in text, teardown
