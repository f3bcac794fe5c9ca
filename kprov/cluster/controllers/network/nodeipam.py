"""Pod CIDR allocation: each node gets a /``node_cidr_mask_size`` of the cluster CIDR in
spec.podCIDR and spec.podCIDRs. Allocations already on nodes are respected; a deleted
node's range is reused. Allocation order is lowest free range first."""

from __future__ import annotations

import ipaddress
import logging

from kprov.cluster.client.errors import ApiError
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import NODES
from kprov.cluster.controllers.base import Controller, ControllerContext, Obj

__all__ = ["CidrAllocator", "NodeIpamController"]

log = logging.getLogger(__name__)


class CidrAllocator:
    def __init__(self, cluster_cidr: str, mask_size: int) -> None:
        self.network = ipaddress.ip_network(cluster_cidr, strict=True)
        if mask_size < self.network.prefixlen:
            raise ValueError(
                f"--node-cidr-mask-size {mask_size} is larger than the cluster CIDR {cluster_cidr}"
            )
        self.mask_size = mask_size
        self.used: set[str] = set()

    def occupy(self, cidr: str) -> None:
        self.used.add(str(ipaddress.ip_network(cidr, strict=False)))

    def release(self, cidr: str) -> None:
        self.used.discard(str(ipaddress.ip_network(cidr, strict=False)))

    def allocate(self) -> str:
        for subnet in self.network.subnets(new_prefix=self.mask_size):
            text = str(subnet)
            if text not in self.used:
                self.used.add(text)
                return text
        raise RuntimeError(f"the cluster CIDR {self.network} has no free /{self.mask_size} left")


class NodeIpamController(Controller):
    name = "nodeipam"
    identity = "node-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        self.allocator = CidrAllocator(ctx.options.cluster_cidr, ctx.options.node_cidr_mask_size)
        super().__init__(ctx)

    def setup(self) -> None:
        self.nodes = self.ctx.informers.get(NODES)
        self.nodes.add_handler(EventHandler(self._seen, lambda _o, n: self._seen(n), self._gone))

    def _seen(self, node: Obj) -> None:
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr:
            self.allocator.occupy(cidr)
        else:
            self.enqueue(node)

    def _gone(self, node: Obj) -> None:
        for cidr in (node.get("spec") or {}).get("podCIDRs") or []:
            self.allocator.release(cidr)

    async def reconcile(self, key: str) -> float | None:
        if not self.nodes.has_synced.is_set():
            return 1.0  # know every existing allocation before handing out new ones
        node = self.nodes.store.get(key)
        if node is None or (node.get("spec") or {}).get("podCIDR"):
            return None
        cidr = self.allocator.allocate()
        patch = {
            "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        }
        try:
            await self.client.patch(NODES, key, patch)
        except ApiError:
            self.allocator.release(cidr)
            raise
        log.info("node %s: podCIDR %s", key, cidr)
        await self.ctx.recorder.record(
            node, "Normal", "CIDRAssignmentSucceeded", f"Node {key} got CIDR {cidr}"
        )
        return None
