"""networking.k8s.io/v1 NetworkPolicy: served, defaulted, validated and printed as kube-apiserver does."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from kprov.cluster.api.defaults import apply_defaults
from kprov.cluster.api.printers.tables import column_definitions, to_table
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate

POLICIES = REGISTRY.get("networking.k8s.io", "v1", "networkpolicies")


def policy(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "np", "namespace": "default"}, "spec": spec}


def messages(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    apply_defaults(POLICIES, obj)
    return [str(c) for c in validate(POLICIES, obj, old)]


def test_served_namespaced_with_short_name() -> None:
    assert POLICIES is not None
    assert POLICIES.kind == "NetworkPolicy" and POLICIES.namespaced
    assert POLICIES.short_names == ("netpol",)
    assert not POLICIES.has_status


@pytest.mark.parametrize(
    ("spec", "types"),
    [
        ({}, ["Ingress"]),
        ({"ingress": [{}]}, ["Ingress"]),
        ({"egress": [{}]}, ["Ingress", "Egress"]),
        ({"egress": []}, ["Ingress"]),
        ({"policyTypes": ["Egress"]}, ["Egress"]),
    ],
)
def test_policy_types_derived_as_upstream(spec: dict[str, Any], types: list[str]) -> None:
    obj = policy(**spec)
    apply_defaults(POLICIES, obj)
    assert obj["spec"]["policyTypes"] == types
    assert obj["spec"]["podSelector"] == {}


def test_ports_default_to_tcp_but_keep_a_given_protocol() -> None:
    obj = policy(
        ingress=[{"ports": [{"port": 80}, {"protocol": "UDP", "port": 53}]}],
        egress=[{"ports": [{"port": "dns"}]}],
    )
    apply_defaults(POLICIES, obj)
    assert [p["protocol"] for p in obj["spec"]["ingress"][0]["ports"]] == ["TCP", "UDP"]
    assert obj["spec"]["egress"][0]["ports"][0]["protocol"] == "TCP"


def test_an_ordinary_policy_is_valid() -> None:
    obj = policy(
        podSelector={"matchLabels": {"app": "db"}},
        ingress=[
            {
                "from": [
                    {"podSelector": {"matchLabels": {"role": "api"}}, "namespaceSelector": {}},
                    {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                ],
                "ports": [{"port": 5432}, {"port": "metrics"}, {"port": 30000, "endPort": 32767}],
            }
        ],
        egress=[{"to": [{"ipBlock": {"cidr": "fd00::/64"}}], "ports": [{"protocol": "SCTP"}]}],
    )
    assert messages(obj) == []


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        ({"protocol": "ICMP", "port": 1}, 'protocol: Unsupported value: "ICMP": '
         'supported values: "TCP", "UDP", "SCTP"'),
        ({"port": 0}, "port: Invalid value: 0: must be between 1 and 65535, inclusive"),
        ({"port": 100, "endPort": 99},
         "endPort: Invalid value: 99: must be greater than or equal to `port`"),
        ({"port": 100, "endPort": 70000},
         "endPort: Invalid value: 70000: must be between 1 and 65535, inclusive"),
        ({"port": "http", "endPort": 90},
         "endPort: Invalid value: 90: may not be specified when `port` is non-numeric"),
        ({"endPort": 90},
         "endPort: Invalid value: 90: may not be specified when `port` is not specified"),
        ({"port": "no_underscores"}, 'port: Invalid value: "no_underscores": '
         "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"),
    ],
)
def test_port_errors_read_like_kube_apiserver(port: dict[str, Any], expected: str) -> None:
    assert messages(policy(ingress=[{"ports": [port]}])) == ["spec.ingress[0].ports[0]." + expected]


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        ({}, ": Required value: must specify a peer"),
        ({"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}},
         ": Forbidden: may not specify both ipBlock and another peer"),
        ({"ipBlock": {"cidr": ""}}, ".ipBlock.cidr: Required value"),
        ({"ipBlock": {"cidr": "10.0.0.1"}},
         '.ipBlock.cidr: Invalid value: "10.0.0.1": not a valid CIDR'),
        ({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["11.0.0.0/16"]}},
         '.ipBlock.except[0]: Invalid value: "11.0.0.0/16": must be a strict subset of `cidr`'),
        ({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8"]}},
         '.ipBlock.except[0]: Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`'),
        ({"ipBlock": {"cidr": "10.0.0.0/8", "except": ["bogus"]}},
         '.ipBlock.except[0]: Invalid value: "bogus": not a valid CIDR'),
        ({"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In"}]}},
         ".namespaceSelector.matchExpressions[0].values: Required value: "
         "must be specified when `operator` is 'In' or 'NotIn'"),
        ({"podSelector": {"matchExpressions": [{"key": "team", "operator": "Exists", "values": ["a"]}]}},
         ".podSelector.matchExpressions[0].values: Forbidden: "
         "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"),
        ({"podSelector": {"matchExpressions": [{"key": "team", "operator": "Near"}]}},
         '.podSelector.matchExpressions[0].operator: Invalid value: "Near": '
         "not a valid selector operator"),
    ],
)
def test_peer_errors_read_like_kube_apiserver(peer: dict[str, Any], expected: str) -> None:
    assert messages(policy(egress=[{"to": [peer]}])) == ["spec.egress[0].to[0]" + expected]


def test_pod_selector_labels_and_policy_types() -> None:
    bad_label = policy(podSelector={"matchLabels": {"app": "not valid"}})
    (message,) = messages(bad_label)
    assert message.startswith('spec.podSelector.matchLabels: Invalid value: "not valid": ')
    assert messages(policy(policyTypes=["Ingress", "Sideways"])) == [
        'spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"'
    ]
    assert messages(policy(policyTypes=["Ingress", "Egress", "Ingress"])) == [
        'spec.policyTypes: Invalid value: []networking.PolicyType{"Ingress", "Egress", "Ingress"}: '
        "may not specify more than two policyTypes"
    ]


def test_an_update_keeps_cidrs_the_old_object_already_had() -> None:
    old = policy(ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["bogus"]}}]}])
    new = copy.deepcopy(old)
    new["metadata"]["resourceVersion"] = "1"
    assert messages(new, old) == []
    assert messages(copy.deepcopy(old)) != []


def test_table_shows_the_pod_selector() -> None:
    assert [c["name"] for c in column_definitions(POLICIES)] == ["Name", "Pod-Selector", "Age"]
    now = dt.datetime(2024, 1, 10, 12, 0, 0, tzinfo=dt.UTC)
    selected = policy(podSelector={"matchLabels": {"app": "db", "tier": "x"}})
    selected["metadata"]["creationTimestamp"] = "2024-01-10T11:55:00Z"
    everything = policy(podSelector={})
    everything["metadata"]["creationTimestamp"] = "2024-01-10T11:55:00Z"
    rows = to_table(POLICIES, [selected, everything], now=now)["rows"]
    assert [r["cells"] for r in rows] == [["np", "app=db,tier=x", "5m"], ["np", "<none>", "5m"]]
