"""The scheduler's view of the cluster: per-node state kept up to date incrementally.

:class:`NodeInfo` holds a node's allocatable resources and what its pods already request
(cpu, memory, pod count, host ports, and the other resources its node offers or its pods ask
for: ephemeral-storage, hugepages, extended resources), so a resource check is a few integer
comparisons.
:class:`SchedulerCache` holds every node, every assigned pod and the pods the scheduler
has *assumed* onto a node before the API server confirmed the binding: an assumed pod
counts against its node at once, so two pods in flight can never double-book capacity.

For inter-pod (anti-)affinity and topology spreading it keeps indexes instead of scanning:
pods by (namespace, label key, label value) and by namespace, and the required
anti-affinity terms of existing pods grouped by term (equal terms share one entry) with the
nodes where they live. Looking up "pods that match this selector" then touches only
candidate pods, never every pod times every node.

It also keeps a floor under the free cpu, memory and pod slots of all nodes (exact after
adds, a lower bound after removals until recomputed): :meth:`SchedulerCache.fits_everywhere`
answers "does every node have room for this pod?" without visiting the nodes, which lets
the resource filter skip itself in the common case of a cluster with room everywhere.
``domain_memo`` keeps results that depend only on the nodes' names and labels (the topology
domains a pod's node selector allows: visiting every node for each pod showed in the
scheduler's CPU with hundreds of hollow nodes; docs/decisions/0011): it is emptied when a node
comes, goes or changes its labels, which node status posts do not. Each NodeInfo also has a ``memo``
for per-node
results that depend only on the node and the pod's requests (the resource scores),
emptied whenever the node or its pods change: in a large cluster a node changes once
in many cycles, while hundreds of nodes are scored in each.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.objects import cpu_millis, memory_bytes
from kprov.cluster.api.selectors import LabelSelector
from kprov.cluster.scheduler.podinfo import AffinityTerm, PodInfo

__all__ = ["NodeInfo", "SchedulerCache", "memo_key"]

Obj = dict[str, Any]

_NO_FLOOR = 1 << 62


@dataclass
class NodeInfo:
    name: str
    node: Obj
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Obj, ...] = ()
    unschedulable: bool = False
    alloc_cpu: int = 0
    alloc_memory: int = 0
    alloc_pods: int = 110
    req_cpu: int = 0
    req_memory: int = 0
    alloc_scalars: dict[str, int] = field(default_factory=dict)  # allocatable beyond cpu/memory/pods
    req_scalars: Counter[str] = field(default_factory=Counter)
    pods: dict[str, PodInfo] = field(default_factory=dict)
    ports: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    # per-node results that depend only on the node and a pod's requests (e.g. scores), keyed
    # by memo_key(); emptied whenever the node or its pods change
    memo: dict[int, float] = field(default_factory=dict)

    def set_node(self, node: Obj) -> None:
        self.node = node
        self.memo.clear()
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        alloc = (node.get("status") or {}).get("allocatable") or {}
        self.labels = dict(meta.get("labels") or {})
        self.taints = tuple(spec.get("taints") or ())
        self.unschedulable = bool(spec.get("unschedulable"))
        self.alloc_cpu = cpu_millis(alloc["cpu"]) if "cpu" in alloc else 0
        self.alloc_memory = memory_bytes(alloc["memory"]) if "memory" in alloc else 0
        self.alloc_pods = int(alloc.get("pods", 110))
        self.alloc_scalars = {name: memory_bytes(value) for name, value in alloc.items()
                              if name not in ("cpu", "memory", "pods")}

    def add_pod(self, info: PodInfo) -> None:
        self.memo.clear()
        self.pods[info.key] = info
        self.req_cpu += info.cpu
        self.req_memory += info.memory
        self.ports.update(info.host_ports)
        for name, amount in info.scalars:
            self.req_scalars[name] += amount

    def remove_pod(self, key: str) -> PodInfo | None:
        info = self.pods.pop(key, None)
        if info is not None:
            self.memo.clear()
            self.req_cpu -= info.cpu
            self.req_memory -= info.memory
            self.ports.subtract(info.host_ports)
            for name, amount in info.scalars:
                self.req_scalars[name] -= amount
            for port in info.host_ports:
                if self.ports[port] <= 0:
                    del self.ports[port]
        return info


_MEMO_KEYS: dict[tuple[Any, ...], int] = {}


def memo_key(*parts: Any) -> int:
    """A small int standing for ``parts`` (e.g. plugin, cpu, memory): cheap NodeInfo.memo keys.

    Never reused for other parts (memos may outlive any reset), and there are only as many as
    distinct request shapes the scheduler has seen."""
    key = _MEMO_KEYS.get(parts)
    if key is None:
        key = _MEMO_KEYS[parts] = len(_MEMO_KEYS)
    return key


def _required_label(selector: LabelSelector) -> tuple[str, str] | None:
    """A (key, value) label that every pod matching ``selector`` must have, if there is one."""
    for req in selector.requirements:
        if req.op in ("=", "in") and len(req.values) == 1:
            return (req.key, req.values[0])
    return None


class SchedulerCache:
    def __init__(self, assume_ttl: float = 30.0) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.node_order: list[str] = []
        self.node_infos: list[NodeInfo] = []  # the NodeInfos in node_order's order
        self.pod_node: dict[str, str] = {}
        self.assumed: dict[str, float] = {}  # pod key -> monotonic deadline
        self._by_label: dict[tuple[str, str, str], set[str]] = {}
        self._by_namespace: dict[str, set[str]] = {}
        self._pods: dict[str, PodInfo] = {}
        self._anti_terms: dict[str, tuple[AffinityTerm, Counter[str]]] = {}
        # anti-affinity terms by a label (key, value) every matching pod must carry; others are generic
        self._anti_by_label: dict[tuple[str, str], set[str]] = {}
        self._anti_generic: set[str] = set()
        self._assume_ttl = assume_ttl
        self.generation = 0  # bumped on every change that could make a pod schedulable
        self.domain_memo: dict[Any, Any] = {}  # results over node names and labels only
        # how many nodes have taints / are cordoned: when none, those filters have nothing to do
        self.tainted_nodes = 0
        self.unschedulable_nodes = 0
        self._floor = (_NO_FLOOR, _NO_FLOOR, _NO_FLOOR)  # least free (cpu, memory, pod slots) of any node
        self._floor_exact = True
        self.storage: Any = None  # claims/volumes/classes (plugins.volume_binding.StorageView)

    # ---- nodes -------------------------------------------------------------------------

    def set_node(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        info = self.nodes.get(name)
        if info is None:
            info = NodeInfo(name=name, node=node)
            self.nodes[name] = info
            self.node_order.append(name)
            self.node_infos.append(info)
            self.domain_memo.clear()
        else:
            self._count_node(info, -1)
        labels = info.labels
        info.set_node(node)
        if info.labels != labels:
            self.domain_memo.clear()
        self._count_node(info, 1)
        self._floor_exact = False  # allocatable may have grown
        self._lower_floor(info)
        self.generation += 1

    def remove_node(self, name: str) -> None:
        info = self.nodes.pop(name, None)
        if info is not None:
            self._count_node(info, -1)
            self.node_order.remove(name)
            self.node_infos.remove(info)
            self.domain_memo.clear()
            self._floor_exact = False
            self.generation += 1

    def _count_node(self, info: NodeInfo, sign: int) -> None:
        self.tainted_nodes += sign * bool(info.taints)
        self.unschedulable_nodes += sign * info.unschedulable

    # ---- room on every node ------------------------------------------------------------

    def _lower_floor(self, info: NodeInfo) -> None:
        cpu, memory, slots = self._floor
        self._floor = (
            min(cpu, info.alloc_cpu - info.req_cpu),
            min(memory, info.alloc_memory - info.req_memory),
            min(slots, info.alloc_pods - len(info.pods)),
        )

    def fits_everywhere(self, cpu: int, memory: int) -> bool:
        """Every node has a pod slot and ``cpu``/``memory`` free (0 = not asked for)."""
        for _ in range(2):
            floor_cpu, floor_memory, floor_slots = self._floor
            if floor_slots >= 1 and (not cpu or floor_cpu >= cpu) and (not memory or floor_memory >= memory):
                return True
            if self._floor_exact:
                return False
            self._floor = (_NO_FLOOR, _NO_FLOOR, _NO_FLOOR)
            for info in self.nodes.values():
                self._lower_floor(info)
            self._floor_exact = True
        return False

    # ---- pods --------------------------------------------------------------------------

    def _index(self, info: PodInfo) -> None:
        self._by_namespace.setdefault(info.namespace, set()).add(info.key)
        for k, v in info.labels.items():
            self._by_label.setdefault((info.namespace, k, v), set()).add(info.key)

    def _unindex(self, info: PodInfo) -> None:
        members = self._by_namespace.get(info.namespace)
        if members is not None:
            members.discard(info.key)
        for k, v in info.labels.items():
            keyed = self._by_label.get((info.namespace, k, v))
            if keyed is not None:
                keyed.discard(info.key)
                if not keyed:
                    del self._by_label[(info.namespace, k, v)]

    def add_pod(self, info: PodInfo, node_name: str) -> None:
        """Record a pod on a node (bound, or assumed by assume())."""
        self.remove_pod(info.key, bump=False)
        self.pod_node[info.key] = node_name
        self._pods[info.key] = info
        self._index(info)
        for term in info.anti_affinity:
            entry = self._anti_terms.get(term.identity)
            if entry is None:
                entry = self._anti_terms[term.identity] = (term, Counter())
                self._anti_bucket(term).add(term.identity)
            entry[1][node_name] += 1
        node = self.nodes.get(node_name)
        if node is not None:
            node.add_pod(info)
            self._lower_floor(node)

    def remove_pod(self, key: str, bump: bool = True) -> None:
        self.assumed.pop(key, None)
        node_name = self.pod_node.pop(key, None)
        info = self._pods.pop(key, None)
        if info is None:
            return
        self._unindex(info)
        for term in info.anti_affinity:
            entry = self._anti_terms.get(term.identity)
            if entry is not None:
                entry[1][node_name or ""] -= 1
                if entry[1][node_name or ""] <= 0:
                    del entry[1][node_name or ""]
                if not entry[1]:
                    del self._anti_terms[term.identity]
                    self._anti_bucket(term).discard(term.identity)
        if node_name and node_name in self.nodes:
            self.nodes[node_name].remove_pod(key)
            self._floor_exact = False
        if bump:
            self.generation += 1

    def _anti_bucket(self, term: AffinityTerm) -> set[str]:
        required = _required_label(term.selector)
        if required is None:
            return self._anti_generic
        return self._anti_by_label.setdefault(required, set())

    def refresh(self, key: str, pod: Obj) -> None:
        """A newer version of a pod already recorded on its node: hold it instead of the one
        recorded (kube-scheduler's cache updates a pod's info on every update). Without this the
        cache kept the version it scheduled for the pod's life, beside the informer's current one:
        two decoded pods per running pod. Its resources and node are as before (a pod's spec
        does not change them); only changed labels re-index it."""
        info = self._pods.get(key)
        if info is None or info.pod is pod:
            return
        if info.labels == ((pod.get("metadata") or {}).get("labels") or {}):
            info.pod = pod
        else:
            node_name = self.pod_node[key]
            assumed = self.assumed.get(key)
            self.add_pod(PodInfo.of(pod), node_name)
            if assumed is not None:
                self.assumed[key] = assumed

    def assume(self, info: PodInfo, node_name: str) -> None:
        self.add_pod(info, node_name)
        self.assumed[info.key] = time.monotonic() + self._assume_ttl

    def confirm(self, key: str) -> None:
        """The binding was observed: the pod is no longer only assumed."""
        self.assumed.pop(key, None)

    def forget(self, key: str) -> None:
        """A binding failed: give the node's capacity back."""
        if key in self.assumed:
            self.remove_pod(key)

    def expire_assumed(self) -> list[str]:
        now = time.monotonic()
        stale = [k for k, deadline in self.assumed.items() if deadline < now]
        for key in stale:
            self.remove_pod(key)
        return stale

    def is_assigned(self, key: str) -> bool:
        return key in self.pod_node

    # ---- queries for affinity and spreading --------------------------------------------

    def matching_pods(self, namespaces: frozenset[str] | None, selector: LabelSelector) -> Iterable[PodInfo]:
        """Assigned pods in ``namespaces`` (None = all) whose labels match ``selector``."""
        if selector.nothing:
            return []
        spaces = list(namespaces) if namespaces is not None else list(self._by_namespace)
        narrowing = _required_label(selector)
        found: list[PodInfo] = []
        for ns in spaces:
            if narrowing is not None:
                keys: Iterable[str] = self._by_label.get((ns, *narrowing), ())
            else:
                keys = self._by_namespace.get(ns, ())
            for key in keys:
                info = self._pods[key]
                if selector.matches(info.labels):
                    found.append(info)
        return found

    def domains_with(self, pods: Iterable[PodInfo], topology_key: str) -> Counter[str]:
        """How many of ``pods`` run in each topology domain (node label value)."""
        counts: Counter[str] = Counter()
        for info in pods:
            node = self.nodes.get(self.pod_node.get(info.key, ""))
            if node is not None and topology_key in node.labels:
                counts[node.labels[topology_key]] += 1
        return counts

    def existing_anti_affinity(self, pod: PodInfo) -> dict[str, tuple[str, Counter[str]]]:
        """Existing pods' required anti-affinity terms that match ``pod``, by term identity:
        (topologyKey, how many of those pods sit in each domain it forbids)."""
        out: dict[str, tuple[str, Counter[str]]] = {}
        candidates = set(self._anti_generic)
        for item in pod.labels.items():
            candidates.update(self._anti_by_label.get(item, ()))
        for identity in candidates:
            term, node_counts = self._anti_terms[identity]
            if not term.matches(pod.namespace, pod.labels):
                continue
            domains: Counter[str] = Counter()
            for n, count in node_counts.items():
                if n in self.nodes and term.topology_key in self.nodes[n].labels:
                    domains[self.nodes[n].labels[term.topology_key]] += count
            if domains:
                out[identity] = (term.topology_key, domains)
        return out
