"""The kube-dns Service and the servers' own EndpointSlices as data (no API)."""

from __future__ import annotations

import datetime as dt

from kprov.cluster.dns.publish import PublishOptions, service_object, slice_object, stale_peers

NOW = dt.datetime(2026, 11, 23, 9, 0, 0, tzinfo=dt.UTC)
H1 = PublishOptions(node_name="h1", address="10.77.0.11", cluster_ip="10.96.0.10")
H2 = PublishOptions(node_name="h2", address="10.77.0.12")


def test_service_is_selectorless_on_the_conventional_ip() -> None:
    svc = service_object(H1)
    assert svc["metadata"]["name"] == "kube-dns" and svc["metadata"]["namespace"] == "kube-system"
    assert "selector" not in svc["spec"] and svc["spec"]["clusterIP"] == "10.96.0.10"
    ports = {(p["protocol"], p["port"]) for p in svc["spec"]["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 9153)}


def test_slice_carries_the_host_and_its_readiness() -> None:
    eps = slice_object(H1, False, NOW)
    assert eps["metadata"]["name"] == "kube-dns-h1"
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == "kube-dns"
    assert eps["endpoints"] == [{"addresses": ["10.77.0.11"], "nodeName": "h1",
                                 "conditions": {"ready": False, "serving": False, "terminating": False}}]
    assert [p["name"] for p in eps["ports"]] == ["dns", "dns-tcp", "metrics"]


def test_peers_that_stop_renewing_are_marked_not_ready() -> None:
    fresh = slice_object(H2, True, NOW - dt.timedelta(seconds=10))
    stale = slice_object(H2, True, NOW - dt.timedelta(seconds=90))
    own_stale = slice_object(H1, True, NOW - dt.timedelta(seconds=90))
    already = slice_object(H2, False, NOW - dt.timedelta(seconds=90))
    unmanaged = {"kubernetes.io/service-name": "kube-dns"}
    foreign = {**stale, "metadata": {**stale["metadata"], "labels": unmanaged}}
    assert stale_peers([fresh, own_stale, already, foreign], "kube-dns-h1", NOW, 40) == []
    (dead,) = stale_peers([stale], "kube-dns-h1", NOW, 40)
    assert dead["endpoints"][0]["conditions"]["ready"] is False
    assert dead["endpoints"][0]["addresses"] == ["10.77.0.12"]
