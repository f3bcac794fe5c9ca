"""Renewing a Lease from the copy the last renewal returned (upstream's lease controller).

Upstream's node lease controller keeps the Lease its last write returned and renews from
it: one PUT per renewal, and a fresh read only when that copy went stale (a conflict, the
Lease deleted). Reading it first on every renewal, as kprov's kubelet did, doubled the
requests of the one call every node makes every 10 s. The kubelet, the hollow fleet and
kprov-dns's liveness Lease renew through :func:`renew_lease`.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.client.errors import AlreadyExists, ApiError, Conflict, NotFound
from kprov.cluster.client.resources import LEASES, NAMESPACES
from kprov.cluster.client.rest import ApiClient

__all__ = ["renew_lease"]

Obj = dict[str, Any]


async def _create(client: ApiClient, body: Obj) -> Obj:
    namespace = body["metadata"]["namespace"]
    try:
        return await client.create(LEASES, body, namespace)
    except NotFound:  # the namespace itself is missing (kube-node-lease on a young cluster)
        try:
            await client.create(NAMESPACES, {"metadata": {"name": namespace}})
        except ApiError as err:
            if err.code != 409:
                raise
        return await client.create(LEASES, body, namespace)


async def renew_lease(client: ApiClient, body: Obj, last: Obj | None) -> Obj | None:
    """Write ``body``'s spec (and labels) into the Lease, from ``last`` when there is one.

    ``last`` None: create the Lease, or read it if it exists. Returns the Lease as written,
    to pass as ``last`` next time; None when that copy went stale (someone else wrote the
    Lease, or deleted it), so the next renewal reads afresh. Other errors are raised.
    """
    meta = body["metadata"]
    try:
        if last is None:
            try:
                return await _create(client, body)
            except AlreadyExists:
                last = await client.get(LEASES, meta["name"], meta["namespace"])
        labels = {**(last["metadata"].get("labels") or {}), **(meta.get("labels") or {})}
        written = {**last["metadata"], "labels": labels}
        if meta.get("ownerReferences") and not last["metadata"].get("ownerReferences"):
            written["ownerReferences"] = meta["ownerReferences"]  # the owner known only later
        return await client.update(LEASES, {**last, "metadata": written,
                                            "spec": {**(last.get("spec") or {}), **body["spec"]}})
    except (Conflict, NotFound):
        return None
