"""Fleets sharing a cluster take disjoint node numbers, names and node/pod IPs."""

from __future__ import annotations

from kprov.cluster.hollow.fleet import FleetConfig, HollowFleet

from .no_client import NoClient


def test_first_index_numbers_names_and_ips_after_another_fleet() -> None:
    a = HollowFleet(NoClient(), FleetConfig(count=3))  # type: ignore[arg-type]
    b = HollowFleet(NoClient(), FleetConfig(count=3, first_index=3))  # type: ignore[arg-type]
    assert a.names == ["hollow-node-0", "hollow-node-1", "hollow-node-2"]
    assert b.names == ["hollow-node-3", "hollow-node-4", "hollow-node-5"]
    ips = [f.node_ip(n) for f in (a, b) for n in f.names]
    assert len(set(ips)) == 6
    assert b.node_ip("hollow-node-3") == "100.96.0.4"
