"""What every reconciler shares: the context it runs in, its queue, and expectations.

A :class:`Controller` names the informers it needs in ``setup()`` (through the shared
:class:`~.informers.SharedInformers`, so each kind is listed and watched once per
process), maps events to keys on its :class:`~kprov.cluster.client.WorkQueue`, and
implements ``reconcile(key)``: read the cache, compare with the desired state, write the
difference. :class:`Expectations` remembers creations/deletions a controller has asked
for but not yet seen in its cache, so it never acts twice on a stale view (the
ReplicaSet controller would otherwise create too many pods).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from kprov.cluster.client.events import EventRecorder
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.client.runner import run_workers
from kprov.cluster.client.store import object_key
from kprov.cluster.client.workqueue import WorkQueue
from kprov.cluster.controllers.informers import SharedInformers

__all__ = ["Controller", "ControllerContext", "ControllerOptions", "Expectations", "Obj"]

Obj = dict[str, Any]


@dataclass(frozen=True)
class ControllerOptions:
    cluster_cidr: str = "10.244.0.0/16"
    node_cidr_mask_size: int = 0  # 0 = unset: per family, /24 and /64 (upstream's defaults)
    node_cidr_mask_size_ipv4: int = 0
    node_cidr_mask_size_ipv6: int = 0
    allocate_node_cidrs: bool = True
    node_monitor_grace_period: float = 40.0
    node_monitor_period: float = 5.0
    default_toleration_seconds: float = 300.0
    workers: int = 4
    root_ca_file: str = ""  # the CA published as kube-root-ca.crt (default: the kubeconfig's)
    service_account_private_key_file: str = ""  # signs legacy token Secrets (none: not filled)
    default_storage_class: str = ""  # created (local-path, the cluster default) when missing
    hpa_downscale_stabilization: float = 300.0  # seconds a scale-down waits for (upstream: 5m)
    loadbalancer_address_pools: str = ""  # CIDRs/ranges for LoadBalancer Services (none: node IPs)
    cluster_signing_cert_file: str = ""  # the CA csrsigning signs with (none: it signs nothing)
    cluster_signing_key_file: str = ""
    cluster_signing_duration: float = 365 * 24 * 3600.0  # upstream's 8760h


@dataclass
class ControllerContext:
    client: ApiClient
    informers: SharedInformers
    recorder: EventRecorder
    options: ControllerOptions = field(default_factory=ControllerOptions)


class Expectations:
    """Per-key counts of pending creates/deletes; satisfied when both reach 0 or they expire."""

    def __init__(self, ttl: float = 60.0) -> None:
        self._pending: dict[str, tuple[int, int, float]] = {}
        self._ttl = ttl

    def expect(self, key: str, adds: int = 0, deletes: int = 0) -> None:
        self._pending[key] = (adds, deletes, time.monotonic())

    def observed_add(self, key: str) -> None:
        if key in self._pending:
            adds, deletes, stamp = self._pending[key]
            self._pending[key] = (adds - 1, deletes, stamp)

    def observed_delete(self, key: str) -> None:
        if key in self._pending:
            adds, deletes, stamp = self._pending[key]
            self._pending[key] = (adds, deletes - 1, stamp)

    def observe_event(self, key: str, old: Obj | None, new: Obj | None) -> None:
        """Count an owned object's informer event: an add (``old`` None) is a create seen; a
        deletion is seen once, when it is first marked (deletionTimestamp) or, if it never
        was, when the object is gone (``new`` None)."""
        if old is None:
            self.observed_add(key)
        elif not old["metadata"].get("deletionTimestamp") and (
            new is None or new["metadata"].get("deletionTimestamp")
        ):
            self.observed_delete(key)

    def satisfied(self, key: str) -> bool:
        entry = self._pending.get(key)
        if entry is None:
            return True
        adds, deletes, stamp = entry
        return (adds <= 0 and deletes <= 0) or time.monotonic() - stamp > self._ttl

    def forget(self, key: str) -> None:
        self._pending.pop(key, None)


class Controller:
    name: ClassVar[str] = ""
    # the ServiceAccount (kube-system/<identity>, role system:controller:<identity>) it acts as
    # under --use-service-account-credentials; "" keeps the manager's own identity
    identity: ClassVar[str] = ""

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.queue = WorkQueue(name=self.name)
        self.setup()

    def setup(self) -> None:
        """Ask for informers and register handlers."""

    async def reconcile(self, key: str) -> float | None:
        raise NotImplementedError

    async def _reconcile(self, key: object) -> float | None:
        return await self.reconcile(str(key))

    async def run(self) -> None:
        await run_workers(self.name, self.queue, self._reconcile, self.ctx.options.workers)

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(object_key(obj))
