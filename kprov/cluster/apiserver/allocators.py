"""ClusterIP and NodePort allocation, safe across several API servers.

Each allocated IP or port is a claim key in etcd (``/registry/ipallocations/<ip>``,
``/registry/portallocations/<port>``) created with an "absent" comparison, so two servers can
never hand out the same one: whoever creates the key owns it. A Service asking for a
specific IP that is already claimed gets 422; deleting the Service deletes its claims.
"""

from __future__ import annotations

import contextlib
import ipaddress
import random
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from kprov.cluster.api.errors import Cause, InvalidError
from kprov.cluster.api.sloppy_ip import canonical_ip, parse_ip_sloppy
from kprov.cluster.storage import KeyExistsError, KeyNotFoundError, RevisionConflictError, Store, WatchCache

__all__ = ["Allocators"]

_IP_PREFIX = "/registry/ipallocations/"
_PORT_PREFIX = "/registry/portallocations/"


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


class Allocators:
    def __init__(
        self, store: Store, cache: WatchCache, service_cidr: str, node_ports: tuple[int, int]
    ) -> None:
        self._store = store
        self._cache = cache
        self.network = ipaddress.ip_network(service_cidr)
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

    async def allocate_ip(self, owner: str, wanted: str | None, dry_run: bool) -> str:
        if wanted:
            address = parse_ip_sloppy(wanted)
            if address is None:
                raise InvalidError(
                    "Service",
                    owner,
                    [
                        Cause(
                            "spec.clusterIPs",
                            "FieldValueInvalid",
                            f'Invalid value: "{wanted}": must be a valid IP',
                        )
                    ],
                )
            if address not in self.network or address in (
                self.network.network_address,
                self.network.broadcast_address,
            ):
                raise InvalidError(
                    "Service",
                    owner,
                    [
                        Cause(
                            "spec.clusterIPs",
                            "FieldValueInvalid",
                            f'Invalid value: []string{{"{wanted}"}}: failed to allocate IP {wanted}: '
                            f"the provided IP ({wanted}) is not in the valid range. "
                            f"The range of valid IPs is {self.network}",
                        )
                    ],
                )
            if dry_run or await self._claim(_IP_PREFIX + str(address), owner):
                return wanted
            raise InvalidError(
                "Service",
                owner,
                [
                    Cause(
                        "spec.clusterIPs",
                        "FieldValueInvalid",
                        f'Invalid value: []string{{"{wanted}"}}: failed to allocate IP {wanted}: '
                        "provided IP is already allocated",
                    )
                ],
            )
        size = self.network.num_addresses - 2
        taken = self._taken(_IP_PREFIX)
        for _ in range(200):
            candidate = str(self.network.network_address + 2 + random.randrange(max(size - 1, 1)))
            if candidate in taken:
                continue
            if dry_run or await self._claim(_IP_PREFIX + candidate, owner):
                return candidate
        raise InvalidError(
            "Service",
            owner,
            [Cause("spec.clusterIPs", "FieldValueInvalid", "failed to allocate a serviceIP: range is full")],
        )

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
        if spec.get("clusterIP") != "None" and kind != "ExternalName":
            ip = await self.allocate_ip(owner, spec.get("clusterIP") or None, dry_run)
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        await self._claim_node_ports(owner, spec, _split_node_ports(spec), dry_run)

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
        """A Service's allocations follow its new type, as the API server's service registry:
        a ClusterIP is kept (it may not change), allocated when the Service gets one for the
        first time (ExternalName -> ClusterIP) and released when it stops having one (->
        ExternalName); node ports are kept per port, allocated for ports that lack one and
        released when the type no longer has them. Released claims go once the update is
        decided (not on a dry run)."""
        meta = new["metadata"]
        owner = f"{meta.get('namespace', '')}/{meta['name']}"
        old_spec: dict[str, Any] = old.get("spec") or {}
        spec = new.setdefault("spec", {})
        kind = spec.setdefault("type", "ClusterIP")
        old_ip: str = old_spec.get("clusterIP") or ""
        had_ip = bool(old_ip) and old_ip != "None"
        release: list[str] = []
        if kind == "ExternalName":
            if had_ip:
                release.append(_IP_PREFIX + canonical_ip(old_ip))
        elif spec.get("clusterIP") != "None":
            if spec.get("clusterIP") in (None, "") and had_ip:
                spec["clusterIP"] = old_ip
                spec["clusterIPs"] = old_spec.get("clusterIPs", [old_ip])
            elif had_ip and spec.get("clusterIP") != old_ip:
                raise InvalidError("Service", meta["name"], [Cause(
                    "spec.clusterIPs[0]", "FieldValueInvalid",
                    f'Invalid value: []string{{"{spec.get("clusterIP")}"}}: may not change once set')])
            elif not had_ip:
                ip = await self.allocate_ip(owner, spec.get("clusterIP") or None, dry_run)
                spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
                spec.setdefault("ipFamilies", ["IPv4"])
                spec.setdefault("ipFamilyPolicy", "SingleStack")
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
        await self._claim_node_ports(owner, spec, _split_node_ports(spec, old_ports, old_check), dry_run)
        if not dry_run:
            for key in release:
                await self._release(key)

    async def release_service(self, service: dict[str, Any]) -> None:
        spec = service.get("spec") or {}
        ip = spec.get("clusterIP")
        if ip and ip != "None":
            await self._release(_IP_PREFIX + canonical_ip(ip))
        for port in spec.get("ports") or []:
            if port.get("nodePort"):
                await self._release(_PORT_PREFIX + str(port["nodePort"]))
        if spec.get("healthCheckNodePort"):
            await self._release(_PORT_PREFIX + str(spec["healthCheckNodePort"]))
