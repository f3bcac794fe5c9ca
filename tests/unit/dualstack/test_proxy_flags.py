"""kube-proxy's role flags: IPv4-only as before, both families' addresses and pod CIDRs when
dual-stack (the proxy then programs ``ip6 kprov`` too)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from kprov.provision.templates import TemplateEngine

ROLES = Path(__file__).resolve().parents[3] / "roles"
HOST = {"inventory_hostname": "h2", "ansible_host": "10.77.7.12",
        "ansible_default_ipv6": {"address": "fd77:77:7::12"}, "kprov_host_pki": "/etc/kprov/pki"}


def _proxy_args(inventory: dict[str, Any]) -> list[str]:
    layers: list[tuple[Mapping[str, Any], bool]] = [(inventory, True), (HOST, True)]
    for role in ("kube_proxy", "kprov_defaults"):
        layers.append((dict(yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())), True))
    scope = TemplateEngine().scope(layers)
    return [scope.template(a, "t") for a in scope.template("{{ kube_proxy_args }}", "t")
            if "node-ip" in a or "cluster-cidr" in a]


def test_ipv4_only_flags_are_unchanged() -> None:
    assert _proxy_args({}) == ["--node-ip=10.77.7.12", "--cluster-cidr=10.244.0.0/16"]


def test_dual_stack_passes_both_families_primary_first() -> None:
    assert _proxy_args({"kprov_dual_stack": True}) == [
        "--node-ip=10.77.7.12,fd77:77:7::12", "--cluster-cidr=10.244.0.0/16,fd00:10:244::/56"]
