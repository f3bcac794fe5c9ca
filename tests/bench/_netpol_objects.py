"""The NetworkPolicy bench's synthetic cluster, as plain API objects (pure, unit-tested).

Design: a :class:`Shape` (pods, policies, real agents) fixes everything else: namespaces of
100 pods, fake nodes of 100 pods (at least one per agent; agents run as nodes 0..N-1),
10 apps per namespace of 10 consecutive pods, pods placed round-robin over the nodes (so an
app's pods sit on consecutive nodes), each node with pod CIDR ``10.244.<node>.0/24``.
Policies are spread evenly over the namespaces, each selecting one app, in four shapes
(podSelector peer; namespace+pod selector with an endPort range; ipBlock with except, a
named port, and an egress rule; a matchExpressions peer beside a namespace peer), so a
node's table holds every kind of rule the compiler emits. :func:`with_port` is the change
the bench makes: ingress rule 0's ports replaced by one port (a marker findable in
``nft`` output); :func:`spanning_policies` names the policies whose pods sit on every
agent node, so one change must reach every agent.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Shape",
    "namespaces",
    "nodes",
    "percentile",
    "pods",
    "policies",
    "spanning_policies",
    "with_port",
]

Obj = dict[str, Any]
PODS_PER_NAMESPACE = 100
PODS_PER_NODE = 100
APPS = 10
TEAMS = 5


@dataclass(frozen=True)
class Shape:
    pods: int
    policies: int
    agents: int

    @property
    def namespaces(self) -> int:
        return max(1, math.ceil(self.pods / PODS_PER_NAMESPACE))

    @property
    def nodes(self) -> int:
        return max(self.agents, math.ceil(self.pods / PODS_PER_NODE))

    def node_name(self, index: int) -> str:
        return f"node-{index:03d}"

    def namespace_name(self, index: int) -> str:
        return f"ns-{index:03d}"

    def placement(self, pod_index: int) -> tuple[int, int]:
        """(node, slot on that node) of global pod ``pod_index``."""
        return pod_index % self.nodes, pod_index // self.nodes


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0.99 for p99) of a non-empty sample."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def namespaces(shape: Shape) -> list[Obj]:
    return [
        {"metadata": {"name": shape.namespace_name(n), "labels": {"team": f"t{n % TEAMS}"}}}
        for n in range(shape.namespaces)
    ]


def nodes(shape: Shape) -> list[Obj]:
    return [
        {
            "metadata": {
                "name": shape.node_name(m), "labels": {"kubernetes.io/hostname": shape.node_name(m)}
            },
            "spec": {"podCIDR": f"10.244.{m}.0/24", "podCIDRs": [f"10.244.{m}.0/24"]},
        }
        for m in range(shape.nodes)
    ]


def pods(shape: Shape) -> list[Obj]:
    """Every pod with ``status`` filled (the bench writes it through the status subresource)."""
    found = []
    for index in range(shape.pods):
        namespace, k = divmod(index, PODS_PER_NAMESPACE)
        node, slot = shape.placement(index)
        found.append(
            {
                "metadata": {
                    "name": f"pod-{k:03d}",
                    "namespace": shape.namespace_name(namespace),
                    "labels": {"app": f"a{k * APPS // PODS_PER_NAMESPACE}"},
                },
                "spec": {
                    "nodeName": shape.node_name(node),
                    "containers": [
                        {
                            "name": "c",
                            "image": "registry.k8s.io/pause:3.10",
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        }
                    ],
                },
                "status": {
                    "phase": "Running",
                    "podIP": f"10.244.{node}.{slot + 2}",
                    "podIPs": [{"ip": f"10.244.{node}.{slot + 2}"}],
                },
            }
        )
    return found


def _policy(namespace: int, index: int) -> Obj:
    app = index % APPS
    variant = index % 4
    spec: Obj = {"podSelector": {"matchLabels": {"app": f"a{app}"}}}
    if variant == 0:
        spec["ingress"] = [
            {"from": [{"podSelector": {"matchLabels": {"app": f"a{(app + 1) % APPS}"}}}],
             "ports": [{"protocol": "TCP", "port": 8080}]}
        ]
    elif variant == 1:
        spec["ingress"] = [
            {"from": [{"namespaceSelector": {"matchLabels": {"team": f"t{(namespace + 1) % TEAMS}"}},
                       "podSelector": {"matchLabels": {"app": f"a{(app + 2) % APPS}"}}}],
             "ports": [{"protocol": "TCP", "port": 8000, "endPort": 8100}]}
        ]
    elif variant == 2:
        spec["policyTypes"] = ["Ingress", "Egress"]
        spec["ingress"] = [
            {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
             "ports": [{"protocol": "TCP", "port": "http"}]}
        ]
        spec["egress"] = [{"to": [{"podSelector": {}}], "ports": [{"protocol": "UDP", "port": 53}]}]
    else:
        peers = [f"a{(app + 3) % APPS}", f"a{(app + 4) % APPS}"]
        expression = {"key": "app", "operator": "In", "values": peers}
        spec["ingress"] = [
            {"from": [{"podSelector": {"matchExpressions": [expression]}},
                      {"namespaceSelector": {"matchLabels": {"team": f"t{namespace % TEAMS}"}}}],
             "ports": [{"protocol": "TCP", "port": 9090}, {"protocol": "UDP", "port": 9090}]}
        ]
    return spec


def policies(shape: Shape) -> list[Obj]:
    """``shape.policies`` policies, dealt round-robin over the namespaces."""
    found = []
    for index in range(shape.policies):
        namespace, local = index % shape.namespaces, index // shape.namespaces
        found.append(
            {
                "metadata": {"name": f"np-{local:04d}", "namespace": shape.namespace_name(namespace)},
                "spec": _policy(namespace, local),
            }
        )
    return found


def with_port(policy: Obj, port: int) -> Obj:
    """A copy of ``policy`` whose first ingress rule admits only TCP ``port``."""
    changed = copy.deepcopy(policy)
    changed["spec"]["ingress"][0]["ports"] = [{"protocol": "TCP", "port": port}]
    return changed


def spanning_policies(shape: Shape, all_policies: list[Obj], all_pods: list[Obj]) -> list[Obj]:
    """The policies that select at least one pod on every agent node (nodes 0..agents-1)."""
    agent_nodes = {shape.node_name(m) for m in range(shape.agents)}
    where: dict[tuple[str, str], set[str]] = {}
    for pod in all_pods:
        key = (pod["metadata"]["namespace"], pod["metadata"]["labels"]["app"])
        where.setdefault(key, set()).add(pod["spec"]["nodeName"])
    return [
        p for p in all_policies
        if agent_nodes <= where.get(
            (p["metadata"]["namespace"], p["spec"]["podSelector"]["matchLabels"]["app"]), set()
        )
    ]
