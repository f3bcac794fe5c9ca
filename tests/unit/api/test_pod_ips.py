"""Pod status addresses: podIP follows podIPs[0]; podIPs and hostIPs validated as upstream."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.pod_ips import sync_pod_ips, validate_pod_cidrs, validate_pod_ips


def _causes(status: dict[str, Any]) -> list[str]:
    errors = Errors()
    validate_pod_ips(errors, status)
    return [str(c) for c in errors.causes]


def test_sync_takes_pod_ip_from_the_list_and_the_list_from_a_lone_pod_ip() -> None:
    status: dict[str, Any] = {"podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]}
    sync_pod_ips(status)
    assert status["podIP"] == "10.0.0.1"
    old_writer: dict[str, Any] = {"podIP": "10.0.0.2", "hostIP": "192.168.1.2"}
    sync_pod_ips(old_writer)
    assert old_writer["podIPs"] == [{"ip": "10.0.0.2"}] and old_writer["hostIPs"] == [{"ip": "192.168.1.2"}]


def test_dual_stack_addresses_are_valid() -> None:
    assert _causes({"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}],
                    "hostIP": "192.168.1.2", "hostIPs": [{"ip": "192.168.1.2"}, {"ip": "fd00:1::2"}]}) == []


@pytest.mark.parametrize(("status", "message"), [
    ({"podIPs": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]},
     'status.podIPs: Invalid value: []core.PodIP{core.PodIP{IP:"10.0.0.1"}, core.PodIP{IP:"10.0.0.2"}}: '
     "may specify no more than one IP for each IP family"),
    ({"podIPs": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.1"}]},
     'status.podIPs[1]: Duplicate value: core.PodIP{IP:"10.0.0.1"}'),
    ({"podIPs": [{"ip": "banana"}]},
     'status.podIPs[0]: Invalid value: "banana": '
     'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'),
    ({"hostIP": "192.168.1.2", "hostIPs": [{"ip": "192.168.1.3"}]},
     'status.hostIPs[0].ip: Invalid value: "192.168.1.3": must be equal to `hostIP`'),
    ({"hostIP": "fd00::2", "hostIPs": [{"ip": "fd00::2"}, {"ip": "fd00::3"}]},
     'status.hostIPs: Invalid value: []core.HostIP{core.HostIP{IP:"fd00::2"}, core.HostIP{IP:"fd00::3"}}: '
     "may specify no more than one IP for each IP family"),
])
def test_refusals_in_upstream_words(status: dict[str, Any], message: str) -> None:
    assert message in _causes(status)


def _node_causes(spec: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    errors = Errors()
    validate_pod_cidrs(errors, spec, old)
    return [str(c) for c in errors.causes]


def test_node_pod_cidrs() -> None:
    dual = {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24", "fd00:10:244:1::/64"]}
    assert _node_causes(dual) == []
    assert _node_causes(dual, {}) == []  # from "" to valid: the node IPAM controller's write
    assert _node_causes({"podCIDRs": ["10.244.1.0/24", "10.244.2.0/24"]}) == [
        'spec.podCIDRs: Invalid value: []string{"10.244.1.0/24", "10.244.2.0/24"}: '
        "may specify no more than one CIDR for each IP family"]
    assert _node_causes({"podCIDRs": ["nope"]}) == [
        'spec.podCIDRs[0]: Invalid value: "nope": '
        "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"]
    assert _node_causes({"podCIDRs": ["10.244.1.0/24"]}, dual) == [
        'spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid']
