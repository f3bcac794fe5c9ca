"""The kubelet's mirror pods for its host's kprov units, reconciled every few seconds.

One pass (:meth:`MirrorPods.sync`), as upstream's kubelet keeps its static pods' mirrors:
read every known unit's state from systemd at once; for each installed unit, create its
mirror pod when the API has none (or one whose config hash is stale, e.g. after an
upgrade: deleted, then created again), else write its status when what the unit shows
changed or someone else wrote the pod since (the node lifecycle controller marks the pods of
an unreachable node NotReady); delete the mirror pods of units no longer installed
(scale-in, a role removed).
Mirror pods are read from the kubelet's own pod informer (pods bound to this node), so a
pass costs one ``systemctl show`` and writes only changes. A mirror pod deleted by a user
(gracefully: no container here will ever finish that, so the kubelet removes it at once)
comes back on the next pass, as upstream's does. Failures are logged and retried on the
next pass; they never stop the kubelet.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from kprov.cluster.client import AlreadyExists, ApiClient, ApiError, Conflict, NotFound
from kprov.cluster.client.resources import PODS
from kprov.cluster.kubelet.node.host_services import (
    HASH_ANNOTATION,
    HOST_SERVICES,
    MIRROR_ANNOTATION,
    SOURCE_ANNOTATION,
    SOURCE_SYSTEMD,
    HostService,
    UnitState,
    mirror_pod,
    mirror_status,
    pod_name,
    read_unit_states,
)

__all__ = ["MirrorPods"]

log = logging.getLogger(__name__)

UnitReader = Callable[[list[str]], Awaitable[dict[str, UnitState]]]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ours(pod: Mapping[str, Any]) -> bool:
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return MIRROR_ANNOTATION in annotations and annotations.get(SOURCE_ANNOTATION) == SOURCE_SYSTEMD


def _fingerprint(status: Mapping[str, Any]) -> str:
    """What a status says, without its condition transition times (carried over anyway)."""
    conditions = [{k: v for k, v in c.items() if k != "lastTransitionTime"}
                  for c in status.get("conditions") or [] if isinstance(c, Mapping)]
    return json.dumps({**status, "conditions": conditions}, sort_keys=True)


class MirrorPods:
    def __init__(self, client: ApiClient, node: str, node_ip: str | tuple[str, ...], version: str,
                 node_uid: Callable[[], str], pods: Callable[[], Iterable[Mapping[str, Any]]],
                 read_units: UnitReader = read_unit_states,
                 services: tuple[HostService, ...] = HOST_SERVICES,
                 ports: Mapping[str, tuple[int, ...]] | None = None) -> None:
        self.client = client
        self.node, self.node_ip, self.version = node, node_ip, version
        self.node_uid = node_uid  # "" until the kubelet's Node is known
        self.pods = pods  # the pods bound to this node, as the kubelet's informer has them
        self.read_units = read_units
        self.services = services
        self.ports = dict(ports or {})  # unit -> the host ports it holds
        # pod name -> (the resourceVersion our last status write made, what it said)
        self._written: dict[str, tuple[str, str]] = {}

    async def sync(self) -> None:
        states = await self.read_units([s.unit for s in self.services])
        existing = {p["metadata"]["name"]: p for p in self.pods() if _ours(p)}
        wanted: set[str] = set()
        for service in self.services:
            state = states.get(service.unit)
            if state is None or not state.installed:
                continue
            name = pod_name(service, self.node)
            wanted.add(name)
            try:
                await self._sync_one(service, state, existing.get(name))
            except ApiError as err:
                log.warning("mirror pod %s: %s", name, err)
        for name, pod in existing.items():
            if name not in wanted:
                await self._delete(pod)

    async def _sync_one(self, service: HostService, state: UnitState, pod: Mapping[str, Any] | None) -> None:
        uid = self.node_uid()
        if not uid:
            return  # the Node is not registered yet: its uid owns the pod
        desired = mirror_pod(service, self.node, uid, self.version, self.ports.get(service.unit, ()))
        digest = desired["metadata"]["annotations"][HASH_ANNOTATION]
        if pod is not None and (pod["metadata"].get("deletionTimestamp")
                                or (pod["metadata"].get("annotations") or {}).get(HASH_ANNOTATION) != digest):
            # being deleted (a user's graceful delete: nothing runs here to finish it), or an
            # older build's: removed at once and made again, as upstream's kubelet does
            await self._delete(pod)
            pod = None
        if pod is None:
            try:
                pod = await self.client.create(PODS, desired)
            except (AlreadyExists, Conflict):
                return  # created meanwhile (a restart's race): the informer brings it, next pass
            log.info("created mirror pod %s for %s", desired["metadata"]["name"], service.unit)
        meta = pod["metadata"]
        status = mirror_status(service, state, self.node_ip, self.version, pod.get("status") or {}, _now())
        said = _fingerprint(status)
        if self._written.get(meta["name"]) == (meta.get("resourceVersion"), said):
            return  # the pod is as our last write left it, and the unit shows the same: no write
        try:  # (anyone else's write since - the node controller marking it NotReady - is redone)
            written = await self.client.patch(PODS, meta["name"], {"status": status}, meta["namespace"],
                                              patch_type="merge", subresource="status")
        except NotFound:
            return  # deleted meanwhile: created again next pass
        self._written[meta["name"]] = (str((written.get("metadata") or {}).get("resourceVersion", "")), said)

    async def _delete(self, pod: Mapping[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        try:
            await self.client.delete(PODS, meta["name"], meta.get("namespace"), uid=meta.get("uid"),
                                     grace_period_seconds=0)
            log.info("deleted mirror pod %s", meta["name"])
        except (NotFound, Conflict):
            pass
        self._written.pop(meta["name"], None)

    async def run(self, period_s: float = 5.0) -> None:
        while True:
            try:
                await self.sync()
            except Exception as err:  # systemd or the API unreachable: the next pass retries
                log.warning("mirror pods not synced: %s", err)
            await asyncio.sleep(period_s)
