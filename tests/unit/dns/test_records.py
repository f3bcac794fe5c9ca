"""The DNS specification's records as data: objects in, answers out (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.dns.index import ClusterIndex
from kprov.cluster.dns.records import ZoneConfig, lookup, reverse_ip

Z = ZoneConfig()


def svc(name: str, ns: str = "default", ip: str | None = "10.96.0.20", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "ClusterIP", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    if ip is not None:
        body["clusterIP"] = ip
    body.update(spec)
    return {"metadata": {"name": name, "namespace": ns}, "spec": body}


def eps(service: str, endpoints: list[dict[str, Any]], ns: str = "default", name: str = "") -> dict[str, Any]:
    return {
        "metadata": {"name": name or f"{service}-abc", "namespace": ns,
                     "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": endpoints,
    }


def ep(ip: str, ready: bool = True, hostname: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"addresses": [ip], "conditions": {"ready": ready}}
    if hostname:
        out["hostname"] = hostname
    return out


@pytest.fixture
def index() -> ClusterIndex:
    ix = ClusterIndex()
    ix.set_service(svc("web"))
    ix.set_service(svc("v6", ip="fd00::20", clusterIPs=["fd00::20"]))
    ix.set_service(svc("db", ip="None", clusterIP="None"))
    ix.set_slice(eps("db", [ep("10.244.1.5", hostname="db-0"), ep("10.244.2.6", hostname="db-1"),
                            ep("10.244.3.7", ready=False, hostname="db-2"), ep("10.244.4.8")]))
    ix.set_service(svc("late", ip="None", clusterIP="None", publishNotReadyAddresses=True))
    ix.set_slice(eps("late", [ep("10.244.9.9", ready=False)]))
    ix.set_service(svc("ext", ip=None, type="ExternalName", externalName="db.example.org", ports=[]))
    ix.set_service(svc("alias", ip=None, type="ExternalName", externalName="web.default.svc.cluster.local"))
    ix.set_service(svc("api", ns="prod", ip="10.96.5.5"))
    ix.set_pod({"metadata": {"name": "p", "namespace": "default"}, "status": {"podIP": "10.244.1.5"}})
    return ix


def values(answer: Any, section: str = "answer") -> list[tuple[str, str, str]]:
    return sorted((r.name, r.rtype, r.value) for r in getattr(answer, section))


CASES = [
    # (qname, qtype, rcode, answer records (name, type, value))
    ("web.default.svc.cluster.local", "A", "NOERROR",
     [("web.default.svc.cluster.local.", "A", "10.96.0.20")]),
    ("WEB.Default.svc.cluster.local.", "A", "NOERROR",
     [("web.default.svc.cluster.local.", "A", "10.96.0.20")]),
    ("web.default.svc.cluster.local", "AAAA", "NOERROR", []),
    ("v6.default.svc.cluster.local", "AAAA", "NOERROR",
     [("v6.default.svc.cluster.local.", "AAAA", "fd00::20")]),
    ("db.default.svc.cluster.local", "A", "NOERROR",
     [("db.default.svc.cluster.local.", "A", ip) for ip in ("10.244.1.5", "10.244.2.6", "10.244.4.8")]),
    ("db-1.db.default.svc.cluster.local", "A", "NOERROR",
     [("db-1.db.default.svc.cluster.local.", "A", "10.244.2.6")]),
    ("db-2.db.default.svc.cluster.local", "A", "NXDOMAIN", []),  # not ready
    ("10-244-4-8.db.default.svc.cluster.local", "A", "NOERROR",
     [("10-244-4-8.db.default.svc.cluster.local.", "A", "10.244.4.8")]),
    ("late.default.svc.cluster.local", "A", "NOERROR",
     [("late.default.svc.cluster.local.", "A", "10.244.9.9")]),
    ("web-0.web.default.svc.cluster.local", "A", "NXDOMAIN", []),  # not headless
    ("_http._tcp.web.default.svc.cluster.local", "SRV", "NOERROR",
     [("_http._tcp.web.default.svc.cluster.local.", "SRV", "0 100 80 web.default.svc.cluster.local.")]),
    ("_http._udp.web.default.svc.cluster.local", "SRV", "NXDOMAIN", []),
    ("_tcp.web.default.svc.cluster.local", "SRV", "NOERROR", []),
    ("_http._tcp.db.default.svc.cluster.local", "SRV", "NOERROR",
     [("_http._tcp.db.default.svc.cluster.local.", "SRV", f"0 33 8080 {h}.db.default.svc.cluster.local.")
      for h in ("10-244-4-8", "db-0", "db-1")]),
    ("ext.default.svc.cluster.local", "A", "NOERROR",
     [("ext.default.svc.cluster.local.", "CNAME", "db.example.org.")]),
    ("alias.default.svc.cluster.local", "A", "NOERROR",
     [("alias.default.svc.cluster.local.", "CNAME", "web.default.svc.cluster.local."),
      ("web.default.svc.cluster.local.", "A", "10.96.0.20")]),
    ("nope.default.svc.cluster.local", "A", "NXDOMAIN", []),
    ("default.svc.cluster.local", "A", "NOERROR", []),
    ("empty.svc.cluster.local", "A", "NXDOMAIN", []),
    ("svc.cluster.local", "A", "NOERROR", []),
    ("api.prod.svc.cluster.local", "A", "NOERROR", [("api.prod.svc.cluster.local.", "A", "10.96.5.5")]),
    ("10-244-1-5.default.pod.cluster.local", "A", "NOERROR",
     [("10-244-1-5.default.pod.cluster.local.", "A", "10.244.1.5")]),
    ("10-244-1-6.default.pod.cluster.local", "A", "NXDOMAIN", []),  # verified: no such pod
    ("10-244-1-5.prod.pod.cluster.local", "A", "NXDOMAIN", []),
    ("dns-version.cluster.local", "TXT", "NOERROR", [("dns-version.cluster.local.", "TXT", '"1.1.0"')]),
    ("cluster.local", "A", "NOERROR", []),
    ("foo.cluster.local", "A", "NXDOMAIN", []),
    ("20.0.96.10.in-addr.arpa", "PTR", "NOERROR",
     [("20.0.96.10.in-addr.arpa.", "PTR", "web.default.svc.cluster.local.")]),
    ("6.2.244.10.in-addr.arpa", "PTR", "NOERROR",
     [("6.2.244.10.in-addr.arpa.", "PTR", "db-1.db.default.svc.cluster.local.")]),
]


@pytest.mark.parametrize(("qname", "qtype", "rcode", "expected"), CASES)
def test_answers(index: ClusterIndex, qname: str, qtype: str, rcode: str, expected: list[Any]) -> None:
    answer = lookup(index, Z, qname, qtype)
    assert answer is not None
    assert answer.rcode == rcode
    assert values(answer) == sorted(expected)
    if not expected and "arpa" not in qname:
        assert [r.rtype for r in answer.authority] == ["SOA"]


def test_outside_names_and_unknown_reverse_are_not_ours(index: ClusterIndex) -> None:
    assert lookup(index, Z, "example.org", "A") is None
    assert lookup(index, Z, "1.1.168.192.in-addr.arpa", "PTR") is None
    assert lookup(index, Z, "notcluster.local", "A") is None


def test_srv_additional_holds_targets(index: ClusterIndex) -> None:
    answer = lookup(index, Z, "_http._tcp.web.default.svc.cluster.local", "SRV")
    assert answer is not None
    assert values(answer, "additional") == [("web.default.svc.cluster.local.", "A", "10.96.0.20")]


def test_externalname_outside_zone_asks_to_chase(index: ClusterIndex) -> None:
    answer = lookup(index, Z, "ext.default.svc.cluster.local", "A")
    assert answer is not None and answer.chase == "db.example.org"


def test_updates_move_generation_and_answers(index: ClusterIndex) -> None:
    before = index.generation
    index.set_slice(eps("db", [ep("10.244.1.5", hostname="db-0", ready=False)]))
    assert index.generation > before
    answer = lookup(index, Z, "db.default.svc.cluster.local", "A")
    assert answer is not None and values(answer) == []
    index.delete_service(svc("db", ip="None"))
    answer = lookup(index, Z, "db.default.svc.cluster.local", "A")
    assert answer is not None and answer.rcode == "NXDOMAIN"
    same = index.generation
    index.set_service(svc("web"))  # unchanged object: no generation move
    assert index.generation == same


def test_pod_modes(index: ClusterIndex) -> None:
    insecure = ZoneConfig(pods="insecure")
    answer = lookup(index, insecure, "1-2-3-4.any.pod.cluster.local", "A")
    assert answer is not None and values(answer) == [("1-2-3-4.any.pod.cluster.local.", "A", "1.2.3.4")]
    disabled = lookup(index, ZoneConfig(pods="disabled"), "10-244-1-5.default.pod.cluster.local", "A")
    assert disabled is not None and disabled.rcode == "NXDOMAIN"


def test_custom_zone_and_ttl() -> None:
    ix = ClusterIndex()
    ix.set_service(svc("web"))
    answer = lookup(ix, ZoneConfig(zone="k.test", ttl=5), "web.default.svc.k.test", "A")
    assert answer is not None and [(r.value, r.ttl) for r in answer.answer] == [("10.96.0.20", 5)]
    assert lookup(ix, ZoneConfig(zone="k.test"), "web.default.svc.cluster.local", "A") is None


def test_reverse_names() -> None:
    assert reverse_ip("4.3.2.1.in-addr.arpa") == "1.2.3.4"
    assert reverse_ip("3.2.1.in-addr.arpa") is None
    v6 = ".".join(reversed("fd000000000000000000000000000020")) + ".ip6.arpa"
    assert reverse_ip(v6) == "fd00::20"
