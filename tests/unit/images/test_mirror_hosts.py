"""The containerd hosts.toml the container_runtime role writes per mirrored registry: every
control-plane mirror, rotated per node, path-prefixed by the registry name, the upstream
never asked unless the inventory allows it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from kprov.provision.templates import TemplateEngine

TEMPLATE = Path(__file__).resolve().parents[3] / "roles/container_runtime/templates/hosts.toml.j2"
HOSTS = ["h1", "h2", "h3", "h4", "h5"]


def _render(host: str, registry: str = "docker.io", fallback: bool = False,
            proxy: bool = False) -> dict[str, Any]:
    template = TemplateEngine().compile(TEMPLATE.read_text(), "hosts.toml.j2")
    text = template.render(
        groups={"all": HOSTS, "control_plane": HOSTS[:3]}, inventory_hostname=host,
        hostvars={h: {"ansible_host": f"10.0.0.{i}"} for i, h in enumerate(HOSTS, 1)},
        containerd_mirror_group="control_plane", containerd_mirror_port=5000, mirror_registry=registry,
        containerd_mirror_fallback_upstream=fallback, containerd_mirror_ca="/etc/kprov/pki/ca.crt",
        containerd_mirror_upstreams={"docker.io": "https://registry-1.docker.io"},
        containerd_mirror_proxy=proxy, containerd_mirror_proxy_for="docker.io",
        containerd_mirror_proxy_port=5002)
    return tomllib.loads(text)


def _order(doc: dict[str, Any]) -> list[str]:
    return [*doc.get("host", {}), doc["server"]]


def test_every_mirror_is_listed_once_and_the_upstream_is_never_asked() -> None:
    doc = _render("h4")
    assert _order(doc) == [f"https://10.0.0.{i}:5000/v2/docker.io" for i in (1, 2, 3)]
    assert doc["override_path"] is True and doc["ca"] == "/etc/kprov/pki/ca.crt"
    assert all(h["override_path"] and h["capabilities"] == ["pull", "resolve"] for h in doc["host"].values())


def test_nodes_start_at_different_mirrors() -> None:
    firsts = {_order(_render(host, "registry.k8s.io"))[0] for host in HOSTS[:3]}
    assert firsts == {f"https://10.0.0.{i}:5000/v2/registry.k8s.io" for i in (1, 2, 3)}


def test_fallback_to_the_registry_itself_when_allowed() -> None:
    doc = _render("h5", "docker.io", fallback=True)
    assert doc["server"] == "https://registry-1.docker.io" and len(doc["host"]) == 3
    assert _render("h5", "quay.io", fallback=True)["server"] == "https://quay.io"


def test_pull_through_caches_come_after_the_mirrors_for_their_registry_only() -> None:
    doc = _render("h4", "docker.io", proxy=True)
    assert _order(doc) == [*(f"https://10.0.0.{i}:5000/v2/docker.io" for i in (1, 2, 3)),
                           *(f"https://10.0.0.{i}:5002" for i in (1, 2, 3))]
    assert "override_path" not in doc and "override_path" not in doc["host"]["https://10.0.0.1:5002"]
    assert doc["host"]["https://10.0.0.1:5000/v2/docker.io"]["override_path"] is True
    assert _render("h4", "quay.io", proxy=True) == _render("h4", "quay.io")

