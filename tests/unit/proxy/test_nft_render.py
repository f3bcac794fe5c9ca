"""nft script text: the full table, and the smallest transaction between two rulesets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kprov.cluster.nftables.apply import render_delta, render_full
from kprov.cluster.proxy.rules import ProxySettings, RulesCompiler, compute_ruleset, table_name
from kprov.cluster.proxy.servicemap import service_ports
from tests.unit.proxy.objects import endpoint_slice, service

SETTINGS = ProxySettings(node_ips=("10.77.4.11",), cluster_cidr="10.244.0.0/16")

TABLE = table_name(4)


def _ruleset(endpoints_of_web: list[str], with_api: bool = True):  # type: ignore[no-untyped-def]
    services = [service("web", "10.96.0.10")] + ([service("api", "10.96.0.20")] if with_api else [])
    slices = [endpoint_slice("web", endpoints_of_web), endpoint_slice("api", ["10.244.3.3"])]
    return compute_ruleset(service_ports(services, slices), SETTINGS)


def test_full_render_recreates_the_table_in_one_script() -> None:
    text = render_full(_ruleset(["10.244.1.2"]), TABLE)
    lines = text.splitlines()
    assert lines[:3] == ["add table ip kprov", "delete table ip kprov", "table ip kprov {"]
    assert "\t\ttype nat hook prerouting priority dstnat; policy accept;" in lines
    assert "\tmap service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }" in lines
    assert "\tset hairpin { type ipv4_addr . ipv4_addr; }" in lines
    elements = [line for line in lines if line.startswith("add element ip kprov service-ips")]
    assert len(elements) == 1 and "10.96.0.10 . tcp . 80 : goto svc-" in elements[0]
    assert "10.96.0.20 . tcp . 80 : goto svc-" in elements[0]


def test_equal_rulesets_give_an_empty_delta() -> None:
    assert render_delta(_ruleset(["10.244.1.2"]), _ruleset(["10.244.1.2"]), table=TABLE) == ""


def test_one_endpoint_change_refills_one_chain_and_swaps_its_hairpin_element() -> None:
    delta = render_delta(_ruleset(["10.244.1.2", "10.244.2.2"]), _ruleset(["10.244.1.2", "10.244.2.9"]),
                         table=TABLE)
    assert delta is not None
    lines = delta.splitlines()
    assert len([x for x in lines if x.startswith("flush chain")]) == 1
    assert "-default/web/tcp/http" in lines[0]
    assert "delete element ip kprov hairpin { 10.244.2.2 . 10.244.2.2 }" in lines
    assert "add element ip kprov hairpin { 10.244.2.9 . 10.244.2.9 }" in lines
    assert not any("api" in x for x in lines)


def test_service_going_to_zero_endpoints_moves_to_reject_and_its_chain_is_deleted_last() -> None:
    lines = (render_delta(_ruleset(["10.244.1.2"]), _ruleset([]), table=TABLE) or "").splitlines()
    assert any(x.startswith("delete element ip kprov service-ips { 10.96.0.10 . tcp . 80 }") for x in lines)
    assert "add element ip kprov no-endpoint-services { 10.96.0.10 . tcp . 80 : goto reject-chain }" in lines
    assert lines[-1].startswith("delete chain ip kprov svc-")
    assert lines[-2].startswith("flush chain ip kprov svc-")


def test_changed_base_chain_needs_a_full_sync() -> None:
    other = compute_ruleset([], ProxySettings(node_ips=("10.77.4.11",), cluster_cidr="10.245.0.0/16"))
    # masquerading is a regular chain
    delta = render_delta(compute_ruleset([], SETTINGS), other, table=TABLE) or ""
    assert delta.splitlines()[0] == "flush chain ip kprov masquerading"
    assert "ip saddr 10.245.0.0/16 ip daddr != 10.245.0.0/16 masquerade" in delta
    old = compute_ruleset([], SETTINGS)
    new = compute_ruleset([], SETTINGS)
    new.add_chain("nat-output", ["jump services"], "type nat hook output priority -90; policy accept;")
    assert render_delta(old, new, table=TABLE) is None


def test_compiler_hint_gives_the_same_transaction_as_a_full_comparison() -> None:
    compiler = RulesCompiler(SETTINGS)
    steps = [
        (["10.244.1.2", "10.244.2.2"], True),
        (["10.244.1.2"], True),
        ([], False),
        (["10.244.5.5"], True),
    ]
    previous = None
    for endpoints, with_api in steps:
        services = [service("web", "10.96.0.10")] + ([service("api", "10.96.0.20")] if with_api else [])
        slices = [endpoint_slice("web", endpoints), endpoint_slice("api", ["10.244.3.3"])]
        current = compiler.compute(service_ports(services, slices))
        if previous is not None:
            assert current.previous is previous and current.touched is not None
            hinted = render_delta(previous, current, current.touched, table=TABLE)
            assert hinted == render_delta(previous, current, table=TABLE)
        previous = current


def _every_kind_of_service_port():  # type: ignore[no-untyped-def]
    services = [
        service("web", "10.96.0.10"),
        service("sticky", "10.96.0.11", ports=[{"port": 80, "protocol": "TCP"}], sessionAffinity="ClientIP",
                sessionAffinityConfig={"clientIP": {"timeoutSeconds": 10800}}),
        service("np", "10.96.0.12", ports=[{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
                type="NodePort", sessionAffinity="ClientIP"),
        service("empty", "10.96.0.13"),
    ]
    slices = [
        endpoint_slice("web", ["10.244.1.2", "10.244.2.2"]),
        endpoint_slice("sticky", ["10.244.1.3", "10.244.1.4"], port=9376, port_name=""),
        endpoint_slice("np", ["10.244.1.5"], port=9376, port_name=""),
    ]
    return compute_ruleset(service_ports(services, slices), SETTINGS)


def test_every_chain_name_is_an_nft_identifier() -> None:
    ruleset = _every_kind_of_service_port()
    assert any(name.startswith("ep-") for name in ruleset.chains)  # affinity makes endpoint chains
    for name in ruleset.chains:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9/_.\\-]*", name), name


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("unshare"),
                    reason="needs root, nft and unshare for a throwaway network namespace")
def test_nft_accepts_the_full_script_and_a_delta(tmp_path: Path) -> None:
    # the real parser in a private network namespace: a syntax error anywhere fails the whole
    # transaction and leaves every service of that sync unprogrammed (seen with affinity)
    before = _ruleset(["10.244.1.2"])
    after = _every_kind_of_service_port()
    script = tmp_path / "rules.nft"
    script.write_text(render_full(before, TABLE) + "\n" + render_delta(before, after, table=TABLE))
    proc = subprocess.run(["unshare", "--net", "nft", "-f", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
