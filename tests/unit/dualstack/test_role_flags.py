"""The roles' rendered flags: IPv4-only exactly as before; with kprov_dual_stack (or comma
lists set by hand) the upstream forms: --service-cluster-ip-range=v4,v6 (API server),
--cluster-cidr=v4,v6 with one mask per family (controller manager), --node-ip=v4,v6 (kubelet),
IPv6 forwarding among the node's sysctls."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from kprov.provision.templates import TemplateEngine

REPO = Path(__file__).resolve().parents[3]
ROLES = REPO / "roles"
HOST = {"inventory_hostname": "h2", "ansible_host": "10.77.7.12", "kprov_venv": "/opt/kprov/venv",
        "ansible_default_ipv6": {"address": "fd77:77:7::12"}}


def _defaults(role: str) -> dict[str, Any]:
    return dict(yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()))


def _scope(inventory: dict[str, Any]) -> Any:
    layers = [(inventory, True), (HOST, True)]
    layers += [(_defaults(r), True) for r in ("apiserver", "controller_manager", "kubelet", "common")]
    layers.append((_defaults("kprov_defaults"), True))
    return TemplateEngine().scope(layers)


def _flags(inventory: dict[str, Any]) -> dict[str, list[str]]:
    scope = _scope(inventory)
    cm = scope.template("{{ controller_manager_args + controller_manager_family_args }}", "test")
    raw = [a for a in _defaults("apiserver")["apiserver_args"] if "service-cluster-ip-range" in a]
    api = [scope.template(a, "test") for a in raw]  # (the rest names groups, not known here)
    unit = scope.render((ROLES / "kubelet" / "templates" / "kprov-kubelet.service.j2").read_text(), "unit")
    line = next(x for x in unit.replace("\\\n", " ").splitlines() if x.startswith("ExecStart="))
    kubelet = shlex.split(line.removeprefix("ExecStart="))
    sysctls = scope.template("{{ common_family_sysctls }}", "test")
    return {"cm": list(cm), "api": list(api), "kubelet": kubelet, "sysctls": sorted(sysctls)}


def _value(words: list[str], flag: str) -> str:
    if flag in words:
        return words[words.index(flag) + 1]
    return next(w.split("=", 1)[1] for w in words if w.startswith(flag + "="))


def test_ipv4_only_is_the_default_and_renders_todays_flags() -> None:
    flags = _flags({})
    assert _value(flags["cm"], "--cluster-cidr") == "10.244.0.0/16"
    assert "--node-cidr-mask-size=24" in flags["cm"]
    assert not [f for f in flags["cm"] if "ipv6" in f or "ipv4" in f]
    assert _value(flags["api"], "--service-cluster-ip-range") == "10.96.0.0/12"
    assert _value(flags["kubelet"], "--node-ip") == "10.77.7.12"
    assert "net.ipv6.conf.all.forwarding" not in flags["sysctls"]


def test_kprov_dual_stack_renders_both_families_in_upstreams_flags() -> None:
    flags = _flags({"kprov_dual_stack": True})
    assert _value(flags["cm"], "--cluster-cidr") == "10.244.0.0/16,fd00:10:244::/56"
    assert "--node-cidr-mask-size-ipv4=24" in flags["cm"] and "--node-cidr-mask-size-ipv6=64" in flags["cm"]
    assert not any(f.startswith("--node-cidr-mask-size=") for f in flags["cm"])  # upstream refuses it
    assert _value(flags["api"], "--service-cluster-ip-range") == "10.96.0.0/12,fd00:10:96::/112"
    assert _value(flags["kubelet"], "--node-ip") == "10.77.7.12,fd77:77:7::12"  # from the facts
    assert "net.ipv6.conf.all.forwarding" in flags["sysctls"]


def test_ipv6_primary_by_comma_lists_puts_the_ipv6_address_first() -> None:
    flags = _flags({"kprov_pod_cidrs": "fd00:10:244::/56,10.244.0.0/16",
                    "kprov_service_cidrs": "fd00:10:96::/112,10.96.0.0/12",
                    "kprov_node_ipv6": "fd77:77:7::99"})
    assert _value(flags["kubelet"], "--node-ip") == "fd77:77:7::99,10.77.7.12"  # the inventory's wins
    assert _value(flags["api"], "--service-cluster-ip-range") == "fd00:10:96::/112,10.96.0.0/12"
