"""kprov-mirror-order: containerd's hosts.toml lists the answering mirrors first, from the
preferred files the container_runtime role renders (both of its shapes)."""

from __future__ import annotations

import socket
import tomllib
from collections.abc import Iterable
from pathlib import Path

from kprov.images.mirror_order import Syncer, parse, probe, render, reorder, sync_once
from kprov.provision.templates import TemplateEngine
from tests.unit.images.test_mirror_hosts import HOSTS, TEMPLATE


def _preferred(host: str = "h4", registry: str = "docker.io", fallback: bool = False) -> str:
    template = TemplateEngine().compile(TEMPLATE.read_text(), "hosts.toml.j2")
    return template.render(
        groups={"all": HOSTS, "control_plane": HOSTS[:3]}, inventory_hostname=host,
        hostvars={h: {"ansible_host": f"10.0.0.{i}"} for i, h in enumerate(HOSTS, 1)},
        containerd_mirror_group="control_plane", containerd_mirror_port=5000, mirror_registry=registry,
        containerd_mirror_fallback_upstream=fallback, containerd_mirror_ca="/etc/kprov/pki/ca.crt",
        containerd_mirror_upstreams={"docker.io": "https://registry-1.docker.io"},
        containerd_mirror_proxy=False, containerd_mirror_proxy_for="docker.io",
        containerd_mirror_proxy_port=5002)


def _order(text: str) -> list[str]:
    doc = tomllib.loads(text)
    return [*doc.get("host", {}), doc["server"]]


def _mirror(i: int, registry: str = "docker.io") -> str:
    return f"https://10.0.0.{i}:5000/v2/{registry}"


def test_all_answering_keeps_the_preferred_order_and_settings() -> None:
    text = _preferred()
    out = render(reorder(parse(text), {"10.0.0.1:5000", "10.0.0.2:5000", "10.0.0.3:5000"}), "x")
    assert tomllib.loads(out) == tomllib.loads(text)
    assert _order(out) == [_mirror(1), _mirror(2), _mirror(3)]


def test_a_silent_mirror_goes_last_with_its_settings() -> None:
    out = render(reorder(parse(_preferred()), {"10.0.0.2:5000", "10.0.0.3:5000"}), "x")
    assert _order(out) == [_mirror(2), _mirror(3), _mirror(1)]
    doc = tomllib.loads(out)
    assert doc["server"] == _mirror(1) and doc["override_path"] is True
    assert doc["ca"] == "/etc/kprov/pki/ca.crt"
    assert doc["capabilities"] == ["pull", "resolve"]
    assert all(h["override_path"] and h["ca"] == "/etc/kprov/pki/ca.crt" for h in doc["host"].values())


def test_fallback_keeps_the_registry_itself_as_server() -> None:
    out = render(reorder(parse(_preferred(fallback=True)), {"10.0.0.3:5000"}), "x")
    doc = tomllib.loads(out)
    assert doc["server"] == "https://registry-1.docker.io"
    assert list(doc["host"]) == [_mirror(3), _mirror(1), _mirror(2)]


def test_none_answering_keeps_the_preferred_order() -> None:
    out = render(reorder(parse(_preferred("h2")), set()), "x")
    assert _order(out) == [_mirror(2), _mirror(3), _mirror(1)]


def test_sync_writes_only_changes(tmp_path: Path) -> None:
    preferred, hosts = tmp_path / "mirrors", tmp_path / "certs.d"
    preferred.mkdir()
    (preferred / "docker.io.toml").write_text(_preferred())
    (preferred / "quay.io.toml").write_text(_preferred(registry="quay.io"))
    alive = {"10.0.0.1:5000", "10.0.0.2:5000", "10.0.0.3:5000"}
    asked: list[set[str]] = []

    def prober(addresses: Iterable[str]) -> set[str]:
        asked.append(set(addresses))
        return set(alive)

    assert sync_once(preferred, hosts, prober) == ["docker.io", "quay.io"]
    assert asked[-1] == {"10.0.0.1:5000", "10.0.0.2:5000", "10.0.0.3:5000"}
    assert sync_once(preferred, hosts, prober) == []
    alive.discard("10.0.0.1:5000")
    assert sync_once(preferred, hosts, prober) == ["docker.io", "quay.io"]
    assert _order((hosts / "quay.io" / "hosts.toml").read_text())[0] == _mirror(2, "quay.io")
    alive.add("10.0.0.1:5000")
    assert sync_once(preferred, hosts, prober) == ["docker.io", "quay.io"]
    assert _order((hosts / "docker.io" / "hosts.toml").read_text())[0] == _mirror(1)


def test_probe_tells_a_listener_from_a_closed_port() -> None:
    with socket.socket() as listener, socket.socket() as closed:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        closed.bind(("127.0.0.1", 0))  # bound, not listening: refused
        up, down = (f"127.0.0.1:{s.getsockname()[1]}" for s in (listener, closed))
        assert probe([up, down, up], timeout_s=1.0) == {up}


def test_a_kept_syncer_follows_health_and_edits_to_either_file(tmp_path: Path) -> None:
    """The service's Syncer remembers what it settled; it still follows the answering
    mirrors, a new preferred file, and a hosts.toml someone else overwrote."""
    preferred, hosts = tmp_path / "mirrors", tmp_path / "certs.d"
    preferred.mkdir()
    (preferred / "docker.io.toml").write_text(_preferred())
    alive = {"10.0.0.1:5000", "10.0.0.2:5000", "10.0.0.3:5000"}
    syncer = Syncer(preferred, hosts, lambda _addresses: set(alive))
    target = hosts / "docker.io" / "hosts.toml"
    assert syncer.sync() == ["docker.io"]
    assert syncer.sync() == []
    alive.discard("10.0.0.1:5000")
    assert syncer.sync() == ["docker.io"] and _order(target.read_text())[0] == _mirror(2)
    target.write_text("# edited by hand\n")
    assert syncer.sync() == ["docker.io"] and _order(target.read_text())[0] == _mirror(2)
    (preferred / "docker.io.toml").write_text(_preferred("h3"))  # the role rotated the order
    alive.add("10.0.0.1:5000")
    assert syncer.sync() == ["docker.io"]
    assert _order(target.read_text()) == [_mirror(3), _mirror(1), _mirror(2)]
    assert syncer.sync() == []


def test_probe_gives_up_on_a_silent_address_and_skips_bad_ones() -> None:
    with socket.socket() as listener, socket.socket() as full:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        up = f"127.0.0.1:{listener.getsockname()[1]}"
        # a listener whose accept queue is full drops new SYNs: silent, as a powered-off host
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        silent = f"127.0.0.1:{full.getsockname()[1]}"
        port = full.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=1):  # fills the queue (backlog 0)
            assert probe([up, silent, "not-an-address:x"], timeout_s=0.3) == {up}
