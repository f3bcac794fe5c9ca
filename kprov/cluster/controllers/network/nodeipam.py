"""Pod CIDR allocation: each node gets a range of every cluster CIDR (``--cluster-cidr``: one,
or two of different families) in spec.podCIDRs, the first also in spec.podCIDR. Range sizes
per family as kube-controller-manager's: /24 and /64 by default, ``--node-cidr-mask-size``
for a single-stack cluster only, ``--node-cidr-mask-size-ipv4``/``-ipv6`` otherwise.
Allocations already on nodes are respected; a deleted node's ranges are reused. Allocation
order is lowest free range first."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence

from kprov.cluster.client.errors import ApiError
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import NODES
from kprov.cluster.controllers.base import Controller, ControllerContext, Obj

__all__ = ["CidrAllocator", "NodeIpamController", "cluster_cidrs", "node_mask_sizes"]

DEFAULT_MASK = {4: 24, 6: 64}

log = logging.getLogger(__name__)


class CidrAllocator:
    """The ranges of one cluster CIDR, by index: range ``i`` starts at the network's address plus
    ``i`` range sizes. ``_lowest_free`` never passes a free index, so handing out ranges in
    order costs a step each rather than a walk from the start (a walk made every allocation
    quadratic in the node count)."""

    def __init__(self, cluster_cidr: str, mask_size: int) -> None:
        self.network = ipaddress.ip_network(cluster_cidr, strict=True)
        if mask_size < self.network.prefixlen:
            raise ValueError(
                f"--node-cidr-mask-size {mask_size} is larger than the cluster CIDR {cluster_cidr}"
            )
        self.mask_size = mask_size
        self._shift = self.network.max_prefixlen - mask_size
        self._base = int(self.network.network_address)
        self._count = 1 << (mask_size - self.network.prefixlen)
        self._used: set[int] = set()
        self._lowest_free = 0

    def _indexes(self, cidr: str) -> range:
        """The ranges ``cidr`` overlaps (none when it lies outside this network or family)."""
        network = ipaddress.ip_network(cidr, strict=False)
        if network.version != self.network.version or not (
            network.subnet_of(self.network) or self.network.subnet_of(network)  # type: ignore[arg-type]
        ):
            return range(0)
        first = max(int(network.network_address), self._base) - self._base
        last = min(int(network.broadcast_address), int(self.network.broadcast_address)) - self._base
        return range(first >> self._shift, (last >> self._shift) + 1)

    def occupy(self, cidr: str) -> None:
        self._used.update(self._indexes(cidr))

    def release(self, cidr: str) -> None:
        for index in self._indexes(cidr):
            self._used.discard(index)
            self._lowest_free = min(self._lowest_free, index)

    def allocate(self) -> str:
        index = self._lowest_free
        while index in self._used:
            index += 1
        if index >= self._count:
            self._lowest_free = index
            raise RuntimeError(f"the cluster CIDR {self.network} has no free /{self.mask_size} left")
        self._used.add(index)
        self._lowest_free = index + 1
        address = ipaddress.ip_address(self._base + (index << self._shift))
        return f"{address}/{self.mask_size}"


def cluster_cidrs(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``--cluster-cidr``: one CIDR or two of different families (upstream's refusals)."""
    networks = [ipaddress.ip_network(part.strip(), strict=True) for part in text.split(",") if part.strip()]
    if len(networks) > 1 and len({n.version for n in networks}) != 2:
        raise ValueError(f"len of ClusterCIDRs=={len(networks)} and they are not configured as dual stack "
                         "(at least one from each IPFamily")
    if len(networks) > 2:
        raise ValueError(f"len of clusters is:{len(networks)} > more than max allowed of 2")
    return networks


def node_mask_sizes(versions: Sequence[int], mask: int = 0, mask_v4: int = 0, mask_v6: int = 0) -> list[int]:
    """The range size per cluster CIDR (0 = flag unset), as kube-controller-manager's
    ``setNodeCIDRMaskSizes``: the single-family flag only on a single-stack cluster."""
    sizes = dict(DEFAULT_MASK)
    if len(versions) > 1:
        if mask:
            raise ValueError("usage of --node-cidr-mask-size is not allowed with dual-stack clusters")
    elif mask:
        if mask_v4 or mask_v6:
            raise ValueError(
                "usage of --node-cidr-mask-size-ipv4 and --node-cidr-mask-size-ipv6 is not allowed if "
                "--node-cidr-mask-size is set. For dual-stack clusters please unset it and use IPFamily "
                "specific flags")
        return [mask for _ in versions]
    elif mask_v4 and list(versions) == [6]:
        raise ValueError("usage of --node-cidr-mask-size-ipv4 is not allowed for a single-stack IPv6 cluster")
    elif mask_v6 and list(versions) == [4]:
        raise ValueError("usage of --node-cidr-mask-size-ipv6 is not allowed for a single-stack IPv4 cluster")
    sizes.update({4: mask_v4 or sizes[4], 6: mask_v6 or sizes[6]})
    return [sizes[v] for v in versions]


class NodeIpamController(Controller):
    name = "nodeipam"
    identity = "node-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        options = ctx.options
        networks = cluster_cidrs(options.cluster_cidr)
        sizes = node_mask_sizes([n.version for n in networks], options.node_cidr_mask_size,
                                options.node_cidr_mask_size_ipv4, options.node_cidr_mask_size_ipv6)
        self.allocators = [CidrAllocator(str(n), size) for n, size in zip(networks, sizes, strict=True)]
        super().__init__(ctx)

    def _allocator_of(self, cidr: str) -> CidrAllocator | None:
        network = ipaddress.ip_network(cidr, strict=False)
        return next((a for a in self.allocators if a.network.version == network.version), None)

    def setup(self) -> None:
        self.nodes = self.ctx.informers.get(NODES)
        self.nodes.add_handler(EventHandler(self._seen, lambda _o, n: self._seen(n), self._gone))

    def _seen(self, node: Obj) -> None:
        spec = node.get("spec") or {}
        cidrs = spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else [])
        if not cidrs:
            self.enqueue(node)
        for cidr in cidrs:
            allocator = self._allocator_of(cidr)
            if allocator is not None:
                allocator.occupy(cidr)

    def _gone(self, node: Obj) -> None:
        for cidr in (node.get("spec") or {}).get("podCIDRs") or []:
            allocator = self._allocator_of(cidr)
            if allocator is not None:
                allocator.release(cidr)

    async def reconcile(self, key: str) -> float | None:
        if not self.nodes.has_synced.is_set():
            return 1.0  # know every existing allocation before handing out new ones
        node = self.nodes.store.get(key)
        if node is None or (node.get("spec") or {}).get("podCIDR"):
            return None
        cidrs: list[str] = []
        try:
            for allocator in self.allocators:
                cidrs.append(allocator.allocate())
            patch = {
                "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
                "spec": {"podCIDR": cidrs[0], "podCIDRs": cidrs},
            }
            await self.client.patch(NODES, key, patch)
        except (ApiError, RuntimeError):
            for allocator, cidr in zip(self.allocators, cidrs, strict=False):
                allocator.release(cidr)
            raise
        log.info("node %s: podCIDRs %s", key, ",".join(cidrs))
        await self.ctx.recorder.record(
            node, "Normal", "CIDRAssignmentSucceeded", f"Node {key} got CIDR {','.join(cidrs)}"
        )
        return None
