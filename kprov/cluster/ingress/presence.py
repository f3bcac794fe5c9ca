"""Which kprov-ingress instances are alive, for the Ingresses' status: one Lease each.

Each instance keeps a Lease ``kprov-ingress-<node>`` in kube-system (label
``app.kubernetes.io/managed-by=kprov-ingress``) whose ``holderIdentity`` is the address it
serves on, renewed every ``renew_s`` with ``leaseDurationSeconds`` = ``stale_s``, and
deleted on an orderly stop. Every instance reads all of them: the addresses of the Leases
renewed within their duration are what ``status.loadBalancer.ingress`` lists
(:func:`live_addresses`, pure), so a worker that joins or dies changes the status without
any other worker's configuration changing (the roles pass each host only its own address).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kprov.cluster.client.timeutil import format_micro_time, parse_time

__all__ = ["LEASE_SELECTOR", "PresenceOptions", "live_addresses", "presence_lease"]

Obj = dict[str, Any]
_LABEL = "app.kubernetes.io/managed-by"
_MANAGED_BY = "kprov-ingress"
LEASE_SELECTOR = f"{_LABEL}={_MANAGED_BY}"


@dataclass(frozen=True)
class PresenceOptions:
    node_name: str
    address: str
    namespace: str = "kube-system"
    renew_s: float = 10.0
    stale_s: float = 40.0

    @property
    def lease_name(self) -> str:
        return f"kprov-ingress-{self.node_name}"


def presence_lease(options: PresenceOptions, now: dt.datetime) -> Obj:
    return {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": options.lease_name, "namespace": options.namespace,
                     "labels": {_LABEL: _MANAGED_BY}},
        "spec": {"holderIdentity": options.address, "leaseDurationSeconds": round(options.stale_s),
                 "renewTime": format_micro_time(now)},
    }


def live_addresses(leases: Iterable[Obj], now: dt.datetime) -> list[str]:
    """The addresses of instances whose Lease was renewed within its duration, sorted."""
    alive = set()
    for lease in leases:
        spec = lease.get("spec") or {}
        renewed = parse_time(spec.get("renewTime"))
        address = spec.get("holderIdentity")
        if renewed is None or not address:
            continue
        if now - renewed <= dt.timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0)):
            alive.add(str(address))
    return sorted(alive)
