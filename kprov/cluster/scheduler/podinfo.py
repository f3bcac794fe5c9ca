"""What the scheduler needs to know about a pod, computed once per pod.

:class:`PodInfo` holds the pod's effective resource requests (the larger of the sum of
containers and of any init container, plus overhead, as the real scheduler computes them),
its host ports, tolerations, node selector/affinity and pod (anti-)affinity terms with
their label selectors already parsed. Plugins read these fields instead of re-walking the
pod dict for every node.

A pod with no topologySpreadConstraints of its own that a ReplicaSet, StatefulSet or
ReplicationController controls gets kube-scheduler's system defaults (hostname maxSkew 3,
zone maxSkew 5, both ScheduleAnyway), so replicas spread over nodes rather than pile onto
one. kube-scheduler selects the siblings with the owners' and Services' selectors; here the
selector is the pod's own labels, which a controller's pods share (template labels, with
pod-template-hash for a Deployment's ReplicaSet).

A PodInfo is kept for every pod in the scheduler's cache, so it is small: slots, and the
default constraints and their parsed selectors are one shared (read-only) tuple per label
set, as a controller's pods all have the same (2.6 KiB a pod before, most of it these).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from kprov.cluster.api import objects
from kprov.cluster.api.selectors import LabelSelector, label_selector_from_object
from kprov.cluster.client.store import object_key

__all__ = ["DEFAULT_SPREAD", "AffinityTerm", "PodInfo", "pod_requests", "pod_scalar_requests"]

Obj = dict[str, Any]

DEFAULT_SPREAD: tuple[Obj, ...] = (
    {"topologyKey": "kubernetes.io/hostname", "maxSkew": 3, "whenUnsatisfiable": "ScheduleAnyway"},
    {"topologyKey": "topology.kubernetes.io/zone", "maxSkew": 5, "whenUnsatisfiable": "ScheduleAnyway"},
)
_SPREAD_OWNERS = frozenset({"ReplicaSet", "StatefulSet", "ReplicationController"})


def _parsed_once(parse: Callable[[Any], int]) -> Callable[[Any], int]:
    """Pods repeat a handful of request strings ("100m", "256Mi"): parse each once."""
    cached = lru_cache(maxsize=1024)(parse)

    def quantity(value: Any) -> int:
        try:
            return cached(value)
        except TypeError:  # unhashable (malformed) value: let the parser report it
            return parse(value)

    return quantity


cpu_millis = _parsed_once(objects.cpu_millis)
memory_bytes = _parsed_once(objects.memory_bytes)


def _container_requests(container: Obj) -> tuple[int, int]:
    resources = container.get("resources") or {}
    requests = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    cpu = cpu_millis(requests["cpu"]) if "cpu" in requests else 0
    mem = memory_bytes(requests["memory"]) if "memory" in requests else 0
    return cpu, mem


_FIRST_CLASS = frozenset({"cpu", "memory", "pods"})


def _container_scalars(container: Obj) -> dict[str, int]:
    resources = container.get("resources") or {}
    requests = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return {name: memory_bytes(value) for name, value in requests.items() if name not in _FIRST_CLASS}


def pod_scalar_requests(pod: Obj) -> tuple[tuple[str, int], ...]:
    """What the pod asks for beyond cpu and memory (ephemeral-storage, hugepages-*, extended
    resources such as ``example.com/gpu``), as upstream sums them: containers added up, the
    largest init container if larger, plus overhead; only amounts above zero."""
    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    for c in spec.get("containers") or ():
        for name, amount in _container_scalars(c).items():
            total[name] = total.get(name, 0) + amount
    for c in spec.get("initContainers") or ():
        for name, amount in _container_scalars(c).items():
            total[name] = max(total.get(name, 0), amount)
    for name, value in (spec.get("overhead") or {}).items():
        if name not in _FIRST_CLASS:
            total[name] = total.get(name, 0) + memory_bytes(value)
    return tuple(sorted((name, amount) for name, amount in total.items() if amount > 0))


def pod_requests(pod: Obj) -> tuple[int, int]:
    """(milli-cpu, memory bytes) the pod asks for."""
    spec = pod.get("spec") or {}
    cpu = mem = 0
    for c in spec.get("containers") or []:
        c_cpu, c_mem = _container_requests(c)
        cpu, mem = cpu + c_cpu, mem + c_mem
    for c in spec.get("initContainers") or []:
        c_cpu, c_mem = _container_requests(c)
        cpu, mem = max(cpu, c_cpu), max(mem, c_mem)
    overhead = spec.get("overhead") or {}
    if "cpu" in overhead:
        cpu += cpu_millis(overhead["cpu"])
    if "memory" in overhead:
        mem += memory_bytes(overhead["memory"])
    return cpu, mem


def _controlled_by_a_workload(meta: Obj) -> bool:
    return any(ref.get("controller") and ref.get("kind") in _SPREAD_OWNERS
               for ref in meta.get("ownerReferences") or ())


@dataclass(frozen=True)
class AffinityTerm:
    """A pod (anti-)affinity term: pods matching ``selector`` in ``namespaces`` (None = all)."""

    selector: LabelSelector
    namespaces: frozenset[str] | None
    topology_key: str
    weight: int = 0
    identity: str = ""  # equal for equal terms, so existing pods' terms can be grouped

    def matches(self, namespace: str, labels: dict[str, str]) -> bool:
        if self.namespaces is not None and namespace not in self.namespaces:
            return False
        return self.selector.matches(labels)


def _terms(pod_ns: str, raw_terms: list[Obj], weighted: bool) -> tuple[AffinityTerm, ...]:
    out = []
    for raw in raw_terms or []:
        term = raw.get("podAffinityTerm") or {} if weighted else raw
        namespaces = term.get("namespaces") or []
        ns_set: frozenset[str] | None = frozenset(namespaces) if namespaces else frozenset({pod_ns})
        if term.get("namespaceSelector") == {}:
            ns_set = None  # an empty namespaceSelector means every namespace
        selector = label_selector_from_object(term.get("labelSelector"))
        identity = f"{sorted(ns_set) if ns_set is not None else '*'}|{selector}|{term.get('topologyKey', '')}"
        out.append(AffinityTerm(selector, ns_set, term.get("topologyKey", ""),
                                int(raw.get("weight", 0)) if weighted else 0, identity))
    return tuple(out)


@lru_cache(maxsize=1024)
def _default_spread(labels: tuple[tuple[str, str], ...]) -> tuple[tuple[Obj, ...], tuple[LabelSelector, ...]]:
    """The system default constraints for pods with ``labels`` and their selectors (shared)."""
    constraints = tuple({**c, "labelSelector": {"matchLabels": dict(labels)}} for c in DEFAULT_SPREAD)
    return constraints, tuple(label_selector_from_object(c.get("labelSelector")) for c in constraints)


@dataclass(slots=True)
class PodInfo:
    key: str
    pod: Obj
    namespace: str
    labels: dict[str, str]
    cpu: int
    memory: int
    host_ports: tuple[tuple[str, str, int], ...]  # (protocol, hostIP, port)
    tolerations: tuple[Obj, ...]
    node_selector: dict[str, str]
    required_node_terms: tuple[Obj, ...] | None  # None = no required node affinity
    preferred_node_terms: tuple[Obj, ...]
    affinity: tuple[AffinityTerm, ...]
    anti_affinity: tuple[AffinityTerm, ...]
    preferred_affinity: tuple[AffinityTerm, ...]
    preferred_anti_affinity: tuple[AffinityTerm, ...]
    spread_constraints: tuple[Obj, ...]
    spread_selectors: tuple[LabelSelector, ...] = field(default=())
    scalars: tuple[tuple[str, int], ...] = ()  # pod_scalar_requests(): other resources asked for

    @classmethod
    def of(cls, pod: Obj) -> PodInfo:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        ns = meta.get("namespace") or "default"
        cpu, mem = pod_requests(pod)
        ports = []
        for c in spec.get("containers") or []:
            for p in c.get("ports") or []:
                if p.get("hostPort"):
                    host_ip = p.get("hostIP") or "0.0.0.0"
                    ports.append((p.get("protocol") or "TCP", host_ip, int(p["hostPort"])))
        affinity = spec.get("affinity") or {}
        node_aff = affinity.get("nodeAffinity") or {}
        required = (node_aff.get("requiredDuringSchedulingIgnoredDuringExecution") or {})
        pod_aff = affinity.get("podAffinity") or {}
        anti = affinity.get("podAntiAffinity") or {}
        req_key = "requiredDuringSchedulingIgnoredDuringExecution"
        pref_key = "preferredDuringSchedulingIgnoredDuringExecution"
        labels = dict(meta.get("labels") or {})
        constraints = tuple(spec.get("topologySpreadConstraints") or ())
        if not constraints and labels and _controlled_by_a_workload(meta):
            constraints, selectors = _default_spread(tuple(sorted(labels.items())))
        else:
            selectors = tuple(label_selector_from_object(c.get("labelSelector")) for c in constraints)
        return cls(
            key=object_key(pod),
            pod=pod,
            namespace=ns,
            labels=labels,
            cpu=cpu,
            memory=mem,
            host_ports=tuple(ports),
            tolerations=tuple(spec.get("tolerations") or ()),
            node_selector=dict(spec.get("nodeSelector") or {}),
            required_node_terms=tuple(required.get("nodeSelectorTerms") or ()) if required else None,
            preferred_node_terms=tuple(node_aff.get(pref_key) or ()),
            affinity=_terms(ns, pod_aff.get(req_key) or [], False),
            anti_affinity=_terms(ns, anti.get(req_key) or [], False),
            preferred_affinity=_terms(ns, pod_aff.get(pref_key) or [], True),
            preferred_anti_affinity=_terms(ns, anti.get(pref_key) or [], True),
            spread_constraints=constraints,
            spread_selectors=selectors,
            scalars=pod_scalar_requests(pod),
        )
