"""The desired ruleset: what each kind of service port turns into."""

from __future__ import annotations

import random

from kprov.cluster.proxy.rules import ProxySettings, RulesCompiler, compute_ruleset
from kprov.cluster.proxy.servicemap import Endpoint, ServicePort, service_ports
from tests.unit.proxy.objects import endpoint_slice, service

SETTINGS = ProxySettings(node_ips=("10.77.4.11",), cluster_cidr="10.244.0.0/16")


def _port(endpoints: tuple[Endpoint, ...] = (), **kw: object) -> ServicePort:
    fields: dict[str, object] = dict(
        namespace="default", name="web", port_name="http", protocol="tcp",
        cluster_ips=("10.96.0.10",), port=80, endpoints=endpoints,
    )
    fields.update(kw)
    return ServicePort(**fields)  # type: ignore[arg-type]


def _service_chain(ruleset, prefix: str = "svc-"):  # type: ignore[no-untyped-def]
    chains = [c for name, c in ruleset.chains.items() if name.startswith(prefix)]
    assert len(chains) == 1, list(ruleset.chains)
    return chains[0]


def test_cluster_ip_balances_over_every_ready_endpoint() -> None:
    eps = (Endpoint("10.244.1.2", 8080), Endpoint("10.244.2.2", 8080), Endpoint("10.244.2.3", 8080))
    ruleset = compute_ruleset([_port(eps)], SETTINGS)
    chain = _service_chain(ruleset)
    assert chain.rules[0] == "ip saddr != 10.244.0.0/16 jump mark-for-masquerade"
    assert chain.rules[1] == (
        "meta l4proto tcp dnat to numgen random mod 3 map "
        "{ 0 : 10.244.1.2 . 8080, 1 : 10.244.2.2 . 8080, 2 : 10.244.2.3 . 8080 }"
    )
    assert ruleset.elements["service-ips"] == {"10.96.0.10 . tcp . 80": f"goto {chain.name}"}
    assert ruleset.elements["no-endpoint-services"] == {}
    assert set(ruleset.elements["hairpin"]) == {f"{e.ip} . {e.ip}" for e in eps}


def test_no_ready_endpoints_rejects_cluster_ip_and_node_port() -> None:
    ruleset = compute_ruleset([_port(node_port=30080)], SETTINGS)
    assert not [n for n in ruleset.chains if n.startswith(("svc-", "ext-"))]
    assert ruleset.elements["no-endpoint-services"] == {"10.96.0.10 . tcp . 80": "goto reject-chain"}
    assert ruleset.elements["no-endpoint-nodeports"] == {"tcp . 30080": "goto reject-chain"}
    assert ruleset.elements["service-ips"] == {}
    assert ruleset.chains["reject-chain"].rules == ("meta l4proto tcp reject with tcp reset", "reject")


def test_node_port_always_masquerades_then_uses_the_service_chain() -> None:
    ruleset = compute_ruleset([_port((Endpoint("10.244.1.2", 8080),), node_port=30080)], SETTINGS)
    svc, ext = _service_chain(ruleset), _service_chain(ruleset, "ext-")
    assert ext.rules == ("jump mark-for-masquerade", f"goto {svc.name}")
    assert ruleset.elements["service-nodeports"] == {"tcp . 30080": f"goto {ext.name}"}
    assert ruleset.elements["nodeport-ips"] == {"10.77.4.11": ""}
    assert svc.rules[-1] == "meta l4proto tcp dnat to 10.244.1.2:8080"


def test_client_ip_affinity_uses_timed_sets_per_endpoint() -> None:
    eps = (Endpoint("10.244.1.2", 8080), Endpoint("10.244.2.2", 8080))
    ruleset = compute_ruleset([_port(eps, affinity_timeout=600)], SETTINGS)
    affinity = [s for s in ruleset.sets.values() if s.name.startswith("aff-")]
    assert len(affinity) == 2
    assert all(s.flags == "dynamic,timeout" and s.timeout == 600 for s in affinity)
    svc = _service_chain(ruleset)
    assert sum(rule.startswith("ip saddr @aff-") for rule in svc.rules) == 2
    assert svc.rules[-1].startswith("numgen random mod 2 vmap")
    endpoint_chains = [c for n, c in ruleset.chains.items() if n.startswith("ep-")]
    assert sorted(c.rules[1] for c in endpoint_chains) == [
        "meta l4proto tcp dnat to 10.244.1.2:8080",
        "meta l4proto tcp dnat to 10.244.2.2:8080",
    ]


def test_without_cluster_cidr_all_service_traffic_is_masqueraded_and_no_egress_rule() -> None:
    ruleset = compute_ruleset([_port((Endpoint("10.244.1.2", 8080),))], ProxySettings(("10.0.0.1",)))
    assert _service_chain(ruleset).rules[0] == "jump mark-for-masquerade"
    assert not any("ip saddr 10.244" in r for r in ruleset.chains["masquerading"].rules)
    with_cidr = compute_ruleset([], SETTINGS).chains["masquerading"].rules
    assert "ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 masquerade" in with_cidr


def test_compiler_matches_the_pure_function_through_random_changes() -> None:
    rng = random.Random(7)
    names = [f"s{i}" for i in range(12)]
    compiler = RulesCompiler(SETTINGS)
    for _round in range(40):
        services = [
            service(n, f"10.96.1.{i + 1}", type="NodePort" if i % 3 == 0 else "ClusterIP",
                    ports=[{"name": "http", "port": 80, "nodePort": 30000 + i}])
            for i, n in enumerate(names) if rng.random() < 0.8
        ]
        slices = [
            endpoint_slice(
                n, [f"10.244.{rng.randint(1, 3)}.{rng.randint(2, 6)}" for _ in range(rng.randint(0, 3))]
            )
            for n in names
        ]
        ports = service_ports(services, slices)
        expected = compute_ruleset(ports, SETTINGS)
        assert compiler.compute(ports) == expected


def test_load_balancer_ingress_ip_leads_to_the_external_chain() -> None:
    sp = _port((Endpoint("10.244.1.2", 8080),), node_port=30080, load_balancer_ips=("10.77.4.240",))
    ruleset = compute_ruleset([sp], SETTINGS)
    svc, ext = _service_chain(ruleset), _service_chain(ruleset, "ext-")
    assert ruleset.elements["service-ips"] == {
        "10.96.0.10 . tcp . 80": f"goto {svc.name}",
        "10.77.4.240 . tcp . 80": f"goto {ext.name}",
    }
    assert ext.rules == ("jump mark-for-masquerade", f"goto {svc.name}")


def test_load_balancer_without_node_ports_or_endpoints() -> None:
    lb = ("10.77.4.240",)
    ruleset = compute_ruleset([_port((Endpoint("10.244.1.2", 8080),), load_balancer_ips=lb)], SETTINGS)
    assert "10.77.4.240 . tcp . 80" in ruleset.elements["service-ips"]
    assert ruleset.elements["service-nodeports"] == {}
    ruleset = compute_ruleset([_port(load_balancer_ips=lb)], SETTINGS)
    assert ruleset.elements["no-endpoint-services"]["10.77.4.240 . tcp . 80"] == "goto reject-chain"


def test_service_map_reads_load_balancer_ingress_of_vip_mode_only() -> None:
    svc = service("web", "10.96.0.10", type="LoadBalancer")
    svc["status"] = {"loadBalancer": {"ingress": [
        {"ip": "10.77.4.240", "ipMode": "VIP"},
        {"ip": "10.77.4.241"},
        {"ip": "10.77.4.242", "ipMode": "Proxy"},
        {"hostname": "lb.example.com"},
    ]}}
    (sp,) = service_ports([svc], [])
    assert sp.load_balancer_ips == ("10.77.4.240", "10.77.4.241")
    svc["spec"]["type"] = "ClusterIP"
    assert service_ports([svc], [])[0].load_balancer_ips == ()


def test_external_ips_lead_to_the_external_chain_and_take_the_local_policy() -> None:
    svc = service("web", "10.96.0.10", externalIPs=["203.0.113.250", "203.0.113.010", "2001:db8::1"])
    (sp,) = service_ports([svc], [endpoint_slice("web", ["10.244.1.2"])])
    assert sp.external_ips == ("203.0.113.250", "203.0.113.10") and not sp.external_local
    ruleset = compute_ruleset([sp], SETTINGS)
    svc_chain, ext = _service_chain(ruleset), _service_chain(ruleset, "ext-")
    assert ruleset.elements["service-ips"]["203.0.113.250 . tcp . 80"] == f"goto {ext.name}"
    assert ext.rules == ("jump mark-for-masquerade", f"goto {svc_chain.name}")
    svc["spec"]["externalTrafficPolicy"] = "Local"
    assert service_ports([svc], [])[0].external_local
    unserved = compute_ruleset(service_ports([svc], []), SETTINGS)
    assert unserved.elements["no-endpoint-services"]["203.0.113.250 . tcp . 80"] == "goto reject-chain"


def test_external_traffic_policy_local_keeps_the_source_and_uses_local_endpoints_only() -> None:
    eps = (Endpoint("10.244.1.2", 8080, "n1"), Endpoint("10.244.2.2", 8080, "n2"))
    here = ProxySettings(node_ips=("10.77.4.11",), cluster_cidr="10.244.0.0/16", node_name="n1")
    sp = _port(eps, node_port=30080, load_balancer_ips=("10.77.4.240",), external_local=True)
    ruleset = compute_ruleset([sp], here)
    svc, ext = _service_chain(ruleset), _service_chain(ruleset, "ext-")
    local_only = "meta l4proto tcp dnat to 10.244.1.2:8080"
    assert ext.rules == (f"ip saddr 10.244.0.0/16 goto {svc.name}", local_only)
    elsewhere = ProxySettings(node_ips=("10.77.4.13",), cluster_cidr="10.244.0.0/16", node_name="n3")
    assert _service_chain(compute_ruleset([sp], elsewhere), "ext-").rules[-1] == "drop"


def test_service_map_marks_local_policy_for_external_types_only() -> None:
    svc = service("web", "10.96.0.10", type="LoadBalancer", externalTrafficPolicy="Local")
    assert service_ports([svc], [])[0].external_local
    svc["spec"]["type"] = "ClusterIP"
    assert not service_ports([svc], [])[0].external_local


def test_policy_local_falls_back_to_this_nodes_serving_terminating_endpoints() -> None:
    # ready endpoints elsewhere, only a terminating one here: upstream's node-local set falls
    # back on its own (e2e "should fallback to local terminating endpoints ... Local")
    ready_there = (Endpoint("10.244.2.2", 8080, "n2"),)
    terminating_here = (Endpoint("10.244.1.2", 8080, "n1", ready=False),)
    here = ProxySettings(node_ips=("10.77.4.11",), cluster_cidr="10.244.0.0/16", node_name="n1")
    sp = _port(ready_there, node_port=30080, external_local=True, terminating_endpoints=terminating_here)
    ext = _service_chain(compute_ruleset([sp], here), "ext-")
    assert ext.rules[-1] == "meta l4proto tcp dnat to 10.244.1.2:8080"
    both = _port((Endpoint("10.244.1.3", 8080, "n1"),), node_port=30080, external_local=True,
                 terminating_endpoints=terminating_here)
    assert _service_chain(compute_ruleset([both], here), "ext-").rules[-1] == (
        "meta l4proto tcp dnat to 10.244.1.3:8080")  # a ready local endpoint wins


def test_internal_traffic_policy_local_sends_cluster_ip_traffic_to_this_nodes_endpoints_only() -> None:
    eps = (Endpoint("10.244.1.2", 8080, "n1"), Endpoint("10.244.2.2", 8080, "n2"))
    here = ProxySettings(node_ips=("10.77.4.11",), cluster_cidr="10.244.0.0/16", node_name="n1")
    sp = _port(eps, node_port=30080, internal_local=True)
    ruleset = compute_ruleset([sp], here)
    svl, svc = _service_chain(ruleset, "svl-"), _service_chain(ruleset)
    assert svl.rules[-1] == "meta l4proto tcp dnat to 10.244.1.2:8080"
    assert ruleset.elements["service-ips"] == {"10.96.0.10 . tcp . 80": f"goto {svl.name}"}
    assert "numgen random mod 2" in svc.rules[-1]  # node ports still reach every endpoint
    elsewhere = ProxySettings(node_ips=("10.77.4.13",), cluster_cidr="10.244.0.0/16", node_name="n3")
    assert _service_chain(compute_ruleset([sp], elsewhere), "svl-").rules[-1] == "drop"  # none here
    terminating_here = (Endpoint("10.244.1.9", 8080, "n1", ready=False),)
    fallback = _port((Endpoint("10.244.2.2", 8080, "n2"),), internal_local=True,
                     terminating_endpoints=terminating_here)
    assert _service_chain(compute_ruleset([fallback], here), "svl-").rules[-1] == (
        "meta l4proto tcp dnat to 10.244.1.9:8080")  # e2e "fallback to local terminating ... internal"


def test_service_map_reads_internal_traffic_policy() -> None:
    svc = service("web", "10.96.0.10", internalTrafficPolicy="Local")
    assert service_ports([svc], [])[0].internal_local
    svc["spec"]["internalTrafficPolicy"] = "Cluster"
    assert not service_ports([svc], [])[0].internal_local


def test_forwarded_packets_conntrack_calls_invalid_are_dropped_first() -> None:
    chains = compute_ruleset([], SETTINGS).chains
    assert chains["filter-forward"].rules[0] == "ct state invalid drop"
    assert "ct state invalid drop" not in chains["filter-input"].rules + chains["filter-output"].rules
