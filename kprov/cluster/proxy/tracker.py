"""What kprov-proxy knows of Services and EndpointSlices, with per-service change tracking.

Informer handlers feed :class:`ServiceTracker` with objects as they come; it files them by
service (namespace/name; a slice belongs to the service named by its
``kubernetes.io/service-name`` label) and marks that service dirty. :meth:`service_ports`
recomputes the service ports of dirty services only (through the pure
:func:`~.servicemap.service_ports`) and returns all of them in a stable order, so a sync
after one endpoint change costs one service's work plus a merge. A dual-stack node tracks
the service ports of each of its families (4, 6) from the same objects: the sync takes the
changes once (:meth:`ServiceTracker.take_changes`) and computes each family's ports from
them when that family's turn comes (:meth:`ServiceTracker.ports`).
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.proxy.servicemap import SERVICE_NAME_LABEL, ServicePort, service_ports

__all__ = ["Changes", "ServiceTracker"]

Obj = dict[str, Any]
Changes = dict[str, tuple[Obj | None, tuple[Obj, ...]]]  # service key -> (Service, its slices)


def _service_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


class ServiceTracker:
    def __init__(self, families: tuple[int, ...] = (4,)) -> None:
        self.families = families
        self._services: dict[str, Obj] = {}
        self._slices: dict[str, dict[str, Obj]] = {}  # service key -> slice name -> slice
        self._ports: dict[int, dict[str, tuple[ServicePort, ...]]] = {f: {} for f in families}
        self._dirty: set[str] = set()

    @property
    def dirty(self) -> bool:
        return bool(self._dirty)

    def set_service(self, svc: Obj) -> None:
        meta = svc.get("metadata") or {}
        key = _service_key(meta.get("namespace") or "", meta.get("name") or "")
        self._services[key] = svc
        self._dirty.add(key)

    def delete_service(self, svc: Obj) -> None:
        meta = svc.get("metadata") or {}
        key = _service_key(meta.get("namespace") or "", meta.get("name") or "")
        self._services.pop(key, None)
        self._dirty.add(key)

    def _slice_key(self, eps: Obj) -> tuple[str, str] | None:
        meta = eps.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not owner:
            return None
        return _service_key(meta.get("namespace") or "", owner), meta.get("name") or ""

    def set_slice(self, eps: Obj, old: Obj | None = None) -> None:
        if old is not None:
            self.delete_slice(old)  # the service-name label may have changed
        keys = self._slice_key(eps)
        if keys:
            self._slices.setdefault(keys[0], {})[keys[1]] = eps
            self._dirty.add(keys[0])

    def delete_slice(self, eps: Obj) -> None:
        keys = self._slice_key(eps)
        if keys:
            owned = self._slices.get(keys[0], {})
            owned.pop(keys[1], None)
            if not owned:
                self._slices.pop(keys[0], None)
            self._dirty.add(keys[0])

    def mark_all_dirty(self) -> None:
        """Recompute every service next time (after a failed sync)."""
        self._dirty.update(self._services.keys(), *(ports.keys() for ports in self._ports.values()))

    def take_changes(self) -> Changes:
        """The services changed since the last call, as they are now (None: deleted), for
        :meth:`ports`; call it where the objects are fed (the informers' thread)."""
        changes = {key: (self._services.get(key), tuple(self._slices.get(key, {}).values()))
                   for key in self._dirty}
        self._dirty.clear()
        return changes

    def ports(self, family: int, changes: Changes) -> list[ServicePort]:
        """Every service port of ``family`` after ``changes`` (recomputed for those services
        alone). It touches only that family's ports, so a sync can compute one family's
        while the previous family's nft runs, in another thread than the informers'."""
        ports = self._ports[family]
        for key, (svc, slices) in changes.items():
            if svc is None:
                ports.pop(key, None)
            else:
                ports[key] = tuple(service_ports([svc], slices, family))
        return [sp for key in sorted(ports) for sp in ports[key]]

    def service_ports(self, family: int = 4) -> list[ServicePort]:
        """Every service port of ``family``, recomputing (for every family) only services
        changed since the last call."""
        changes = self.take_changes()
        for version in self.families:
            if version != family:
                self.ports(version, changes)
        return self.ports(family, changes)
