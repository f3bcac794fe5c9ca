"""ClusterIP and NodePort allocation, safe across several API servers.

Each allocated IP or port is a claim key in etcd (``/registry/ipallocations/<ip>``,
``/registry/portallocations/<port>``) created with an "absent" comparison, so two servers can
never hand out the same one: whoever creates the key owns it. A Service asking for a
specific IP that is already claimed gets 422; deleting the Service deletes its claims.
There is one IP range per configured family (``--service-cluster-ip-range``: one or two
CIDRs) and one claim space: addresses of both families are keys side by side. Which families
a Service gets is decided first, by :mod:`kprov.cluster.api.service_families`.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.errors import Cause, InvalidError
from kprov.cluster.api.service_families import (
    go_list,
    init_ip_family_fields,
    service_cidrs,
    validate_families_update,
)
from kprov.cluster.api.sloppy_ip import canonical_ip, parse_ip_sloppy
from kprov.cluster.api.validation.field_errors import go_value
from kprov.cluster.storage import KeyExistsError, KeyNotFoundError, RevisionConflictError, Store, WatchCache

__all__ = ["Allocators"]

_IP_PREFIX = "/registry/ipallocations/"
_PORT_PREFIX = "/registry/portallocations/"
FAMILY_BY_VERSION = {4: "IPv4", 6: "IPv6"}


def _allocates_node_ports(spec: dict[str, Any]) -> bool:
    """Whether ports without a nodePort get one: NodePort always, LoadBalancer unless
    ``allocateLoadBalancerNodePorts: false`` (then only the nodePorts asked for are kept)."""
    kind = spec.get("type")
    if kind == "LoadBalancer":
        return spec.get("allocateLoadBalancerNodePorts") is not False
    return kind == "NodePort"


def _needs_health_check_port(spec: dict[str, Any]) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


@dataclass(frozen=True)
class _NodePortSplit:
    """A Service's node ports to claim: ``asked`` (port, field path) first, then any free
    port for the ports at ``any_ports`` and, if ``any_check``, for the health check."""

    asked: list[tuple[int, str]]
    any_ports: list[int]
    any_check: bool


def _split_node_ports(spec: dict[str, Any], kept_ports: Collection[int] = (),
                      kept_check: int | None = None) -> _NodePortSplit:
    """Which node ports a Service asks for by number and which it takes any free one for.
    The ones in ``kept_ports``/``kept_check`` (an update's: already claimed) are neither.
    The asked-for ones go first so that a random pick never takes a port the same Service
    asks for (it would fail as "already allocated")."""
    asked: list[tuple[int, str]] = []
    any_ports: list[int] = []
    if spec.get("type") in ("NodePort", "LoadBalancer"):
        for index, port in enumerate(spec.get("ports") or []):
            if port.get("nodePort") in kept_ports:
                continue
            if port.get("nodePort"):
                asked.append((port["nodePort"], f"spec.ports[{index}].nodePort"))
            elif _allocates_node_ports(spec):
                any_ports.append(index)
    check = spec.get("healthCheckNodePort")
    needs_check = _needs_health_check_port(spec)
    if needs_check and check and check != kept_check:
        asked.append((check, "spec.healthCheckNodePort"))
    return _NodePortSplit(asked, any_ports, needs_check and not check)


def _sync_cluster_ip(spec: dict[str, Any]) -> None:
    """A create that names only ``clusterIP`` (an old client) names ``clusterIPs`` too."""
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]


def _patch_allocated(spec: dict[str, Any], old: dict[str, Any]) -> None:
    """An update that leaves out the allocated addresses keeps them; one that changes only
    one of ``clusterIP``/``clusterIPs`` changes both (upstream's patchAllocatedValues and
    normalizeClusterIPs), so validation judges what the client meant."""
    with_ips = ("ClusterIP", "NodePort", "LoadBalancer")
    if old.get("type", "ClusterIP") in with_ips and spec.get("type", "ClusterIP") in with_ips:
        if not spec.get("clusterIP") and old.get("clusterIP"):
            spec["clusterIP"] = old["clusterIP"]
        if not spec.get("clusterIPs") and old.get("clusterIPs"):
            spec["clusterIPs"] = list(old["clusterIPs"])
    old_ips, ips = list(old.get("clusterIPs") or []), list(spec.get("clusterIPs") or [])
    old_ip, ip = old.get("clusterIP") or "", spec.get("clusterIP") or ""
    if old_ips and not ips and old_ip == ip:
        spec["clusterIPs"] = ips = old_ips
    if old_ip != ip and ips == old_ips:
        if ip:
            spec["clusterIPs"] = [ip]
        else:
            spec.pop("clusterIPs", None)


class Allocators:
    """The Service allocators: one IP range per configured family (``service_cidr`` is the
    flag's one or two CIDRs, the first the default family) and the node port range."""

    def __init__(
        self, store: Store, cache: WatchCache, service_cidr: str, node_ports: tuple[int, int]
    ) -> None:
        self._store = store
        self._cache = cache
        self.networks = {FAMILY_BY_VERSION[n.version]: n for n in service_cidrs(service_cidr)}
        self.families = tuple(self.networks)
        self.network = self.networks[self.families[0]]
        self.node_ports = node_ports

    @property
    def first_ip(self) -> str:
        return str(self.network.network_address + 1)

    async def _claim(self, key: str, owner: str) -> bool:
        try:
            await self._store.create(key, {"metadata": {"name": key.rsplit("/", 1)[-1]}, "owner": owner})
            return True
        except KeyExistsError:
            return False

    async def _release(self, key: str) -> None:
        stored = await self._store.get(key)
        if stored is not None:
            # Already released (or re-claimed) by someone else: nothing left to do.
            with contextlib.suppress(KeyNotFoundError, RevisionConflictError):
                await self._store.delete(key, stored.revision)

    def _taken(self, prefix: str) -> set[str]:
        return {str(o.get("metadata", {}).get("name")) for o in self._cache.objects(prefix)}

    async def allocate_ip(self, owner: str, wanted: str | None, dry_run: bool,
                          family: str | None = None, shown: list[str] | None = None) -> str:
        """An address of ``family`` (the default one if None): ``wanted`` if free and in
        range, else any free one. ``shown`` is the ``clusterIPs`` an error quotes."""
        network = self.networks[family or self.families[0]]
        name = owner.rsplit("/", 1)[-1]
        if wanted:
            listed = go_list(shown or [wanted])
            failed = f"Invalid value: {listed}: failed to allocate IP {wanted}:"
            address = parse_ip_sloppy(wanted)
            if address is None:
                raise InvalidError("Service", name, [Cause(
                    "spec.clusterIPs", "FieldValueInvalid",
                    f"Invalid value: {go_value(wanted)}: must be a valid IP")])
            if address not in network or address in (network.network_address, network.broadcast_address):
                raise InvalidError("Service", name, [Cause(
                    "spec.clusterIPs", "FieldValueInvalid",
                    f"{failed} the provided IP ({wanted}) is not in the valid range. "
                    f"The range of valid IPs is {network}")])
            if dry_run or await self._claim(_IP_PREFIX + str(address), owner):
                return wanted
            raise InvalidError("Service", name, [Cause(
                "spec.clusterIPs", "FieldValueInvalid",
                f"{failed} provided IP is already allocated")])
        size = min(network.num_addresses - 2, 1 << 20)
        taken = self._taken(_IP_PREFIX)
        for _ in range(200):
            candidate = str(network.network_address + 2 + random.randrange(max(size - 1, 1)))
            if candidate in taken:
                continue
            if dry_run or await self._claim(_IP_PREFIX + candidate, owner):
                return candidate
        raise InvalidError(
            "Service",
            name,
            [Cause("spec.clusterIPs", "FieldValueInvalid", "failed to allocate a serviceIP: range is full")],
        )

    async def _fill_cluster_ips(self, owner: str, spec: dict[str, Any], dry_run: bool,
                                start: int = 0) -> list[str]:
        """Give every family of ``ipFamilies`` from ``start`` on its address (the one asked
        for, or any free one); the keys claimed, released again if a later one fails."""
        ips: list[str] = list(spec.get("clusterIPs") or [])
        families: list[str] = list(spec.get("ipFamilies") or [])
        ips += [""] * (len(families) - len(ips))
        asked = list(ips)
        claimed: list[str] = []
        try:
            for index in range(start, len(families)):
                wanted = ips[index] or None
                ips[index] = await self.allocate_ip(owner, wanted, dry_run, families[index], asked)
                claimed.append(_IP_PREFIX + canonical_ip(ips[index]))
        except InvalidError:
            if not dry_run:
                for key in claimed:
                    await self._release(key)
            raise
        spec["clusterIPs"] = ips
        if ips:
            spec["clusterIP"] = ips[0]
        return claimed

    def _init_families(self, spec: dict[str, Any], old: dict[str, Any] | None, name: str) -> None:
        causes = init_ip_family_fields(spec, old, self.families)
        if causes:
            raise InvalidError("Service", name, causes)

    async def allocate_port(self, owner: str, wanted: int | None, dry_run: bool,
                            field: str = "spec.ports[0].nodePort") -> int:
        low, high = self.node_ports
        if wanted:
            if not low <= wanted <= high or not (
                dry_run or await self._claim(_PORT_PREFIX + str(wanted), owner)
            ):
                raise InvalidError(
                    "Service",
                    owner,
                    [
                        Cause(
                            field,
                            "FieldValueInvalid",
                            f"Invalid value: {wanted}: provided port is already allocated"
                            if low <= wanted <= high
                            else f"Invalid value: {wanted}: provided port is not in the valid range. "
                            f"The range of valid ports is {low}-{high}",
                        )
                    ],
                )
            return wanted
        taken = self._taken(_PORT_PREFIX)
        for _ in range(200):
            candidate = random.randint(low, high)
            if str(candidate) not in taken and (
                dry_run or await self._claim(_PORT_PREFIX + str(candidate), owner)
            ):
                return candidate
        raise InvalidError(
            "Service", owner, [Cause("spec.ports", "FieldValueInvalid", "node port range is full")]
        )

    async def allocate_service(self, service: dict[str, Any], dry_run: bool) -> None:
        meta = service["metadata"]
        owner = f"{meta.get('namespace', '')}/{meta['name']}"
        spec = service.setdefault("spec", {})
        kind = spec.setdefault("type", "ClusterIP")
        _sync_cluster_ip(spec)
        self._init_families(spec, None, meta["name"])
        claimed: list[str] = []
        if spec.get("clusterIP") != "None" and kind != "ExternalName":
            claimed = await self._fill_cluster_ips(owner, spec, dry_run)
        try:
            await self._claim_node_ports(owner, spec, _split_node_ports(spec), dry_run)
        except InvalidError:
            if not dry_run:
                for key in claimed:
                    await self._release(key)
            raise

    async def _claim_node_ports(self, owner: str, spec: dict[str, Any], split: _NodePortSplit,
                                dry_run: bool) -> None:
        """Claim the asked-for node ports, then give the rest any free one."""
        for wanted, field in split.asked:
            await self.allocate_port(owner, wanted, dry_run, field)
        for index in split.any_ports:
            spec["ports"][index]["nodePort"] = await self.allocate_port(owner, None, dry_run)
        if split.any_check:
            spec["healthCheckNodePort"] = await self.allocate_port(owner, None, dry_run)

    async def update_service(self, old: dict[str, Any], new: dict[str, Any], dry_run: bool) -> None:
        """A Service's allocations follow its new type and families, as the API server's
        service registry: cluster IPs are kept (the primary may not change), all allocated
        when the Service gets them for the first time (ExternalName -> ClusterIP) and all
        released when it stops having them (-> ExternalName); a secondary one is allocated
        on an upgrade to two families and released on a downgrade to one. Node ports are kept
        per port, allocated for ports that lack one and released when the type no longer has
        them. Released claims go once the update is decided (not on a dry run)."""
        meta = new["metadata"]
        owner = f"{meta.get('namespace', '')}/{meta['name']}"
        old_spec: dict[str, Any] = old.get("spec") or {}
        spec = new.setdefault("spec", {})
        kind = spec.setdefault("type", "ClusterIP")
        old_ips: list[str] = list(old_spec.get("clusterIPs") or
                                  ([old_spec["clusterIP"]] if old_spec.get("clusterIP") else []))
        old_families: list[str] = list(old_spec.get("ipFamilies") or [])
        had_ips = old_spec.get("type", "ClusterIP") != "ExternalName" and bool(old_ips)
        had_ips = had_ips and old_ips[0] != "None"
        _patch_allocated(spec, old_spec)
        self._init_families(spec, old_spec, meta["name"])
        release: list[str] = []
        claimed: list[str] = []
        if kind == "ExternalName":
            release += [_IP_PREFIX + canonical_ip(ip) for ip in old_ips if had_ips]
        elif not had_ips:
            if spec.get("clusterIP") != "None" and not (old_ips and old_ips[0] == "None"):
                claimed = await self._fill_cluster_ips(owner, spec, dry_run)
        else:
            causes = validate_families_update(spec, {**old_spec, "clusterIPs": old_ips})
            if causes:
                raise InvalidError("Service", meta["name"], causes)
            families = list(spec.get("ipFamilies") or [])
            if len(old_families) == 1 and len(families) == 2:
                claimed = await self._fill_cluster_ips(owner, spec, dry_run, start=1)
            elif len(old_families) == 2 and len(families) == 1 and len(old_ips) == 2:
                release.append(_IP_PREFIX + canonical_ip(old_ips[1]))
                spec["clusterIPs"] = (spec.get("clusterIPs") or old_ips)[:1]
        old_ports = {port["nodePort"] for port in old_spec.get("ports") or [] if port.get("nodePort")}
        if kind not in ("NodePort", "LoadBalancer"):
            for port in spec.get("ports") or []:
                port.pop("nodePort", None)
        kept = {port["nodePort"] for port in spec.get("ports") or [] if port.get("nodePort") in old_ports}
        release += [_PORT_PREFIX + str(p) for p in sorted(old_ports - kept)]
        old_check = old_spec.get("healthCheckNodePort")
        if not _needs_health_check_port(spec):
            spec.pop("healthCheckNodePort", None)
        elif spec.get("healthCheckNodePort") in (None, 0, old_check) and old_check:
            spec["healthCheckNodePort"] = old_check
        if old_check and spec.get("healthCheckNodePort") != old_check:
            release.append(_PORT_PREFIX + str(old_check))
        try:
            await self._claim_node_ports(owner, spec, _split_node_ports(spec, old_ports, old_check), dry_run)
        except InvalidError:
            if not dry_run:
                for key in claimed:
                    await self._release(key)
            raise
        if not dry_run:
            for key in release:
                await self._release(key)

    async def release_service(self, service: dict[str, Any]) -> None:
        spec = service.get("spec") or {}
        ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
        if spec.get("type") != "ExternalName":
            for ip in ips:
                if ip and ip != "None":
                    await self._release(_IP_PREFIX + canonical_ip(ip))
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                await self._release(_PORT_PREFIX + str(port["nodePort"]))
        if spec.get("healthCheckNodePort"):
            await self._release(_PORT_PREFIX + str(spec["healthCheckNodePort"]))
