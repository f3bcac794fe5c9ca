"""The kubelet's use of the API server: pod sources, pod status, final delete, node.

Built on :class:`kprov.cluster.client.ApiClient`. Pod status is written as a JSON merge
patch on ``pods/status`` (whole lists replaced), falling back to GET + PUT when the server
does not accept that patch. 404s on a pod being written or deleted are normal (someone
else deleted it) and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kprov.cluster.client import ApiClient, ApiError, Conflict, EventRecorder, NotFound
from kprov.cluster.client.resources import (
    CONFIGMAPS,
    NODES,
    PERSISTENT_VOLUME_CLAIMS,
    PERSISTENT_VOLUMES,
    PODS,
    RUNTIME_CLASSES,
    SECRETS,
    SERVICEACCOUNTS,
    SERVICES,
)

__all__ = ["KubeletApi"]

log = logging.getLogger(__name__)
Obj = Mapping[str, Any]


class KubeletApi:
    def __init__(self, client: ApiClient, node_name: str = "") -> None:
        self.client = client
        self.events = EventRecorder(client, "kubelet", node_name)

    async def record_event(self, pod: Obj, event_type: str, reason: str, message: str) -> None:
        """Best effort: an event that cannot be written never fails a pod sync."""
        try:
            await self.events.record(dict(pod), event_type, reason, message)
        except Exception as err:
            log.debug(
                "event %s for %s not recorded: %s", reason, (pod.get("metadata") or {}).get("name"), err
            )

    async def get_config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.client.get(CONFIGMAPS, name, namespace)
        except NotFound:
            return None

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.client.get(SECRETS, name, namespace)
        except NotFound:
            return None

    async def get_claim(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.client.get(PERSISTENT_VOLUME_CLAIMS, name, namespace)
        except NotFound:
            return None

    async def get_volume(self, name: str) -> dict[str, Any] | None:
        try:
            return await self.client.get(PERSISTENT_VOLUMES, name)
        except NotFound:
            return None

    async def get_runtime_class(self, name: str) -> dict[str, Any] | None:
        try:
            return await self.client.get(RUNTIME_CLASSES, name)
        except NotFound:
            return None

    async def request_token(self, namespace: str, account: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST serviceaccounts/<account>/token (a TokenRequest bound to one of our pods)."""
        path = SERVICEACCOUNTS.path(namespace, account, "token")
        return await self.client.request("POST", path, body=body)  # type: ignore[no-any-return]

    async def services(self, namespace: str) -> list[dict[str, Any]]:
        reply = await self.client.list(SERVICES, namespace)
        return list(reply.get("items") or [])

    async def master_service(self) -> dict[str, Any] | None:
        try:
            return await self.client.get(SERVICES, "kubernetes", "default")
        except NotFound:
            return None

    async def write_pod_status(self, pod: Obj, status: dict[str, Any]) -> None:
        meta = pod.get("metadata") or {}
        name, ns = meta.get("name", ""), meta.get("namespace")
        try:
            await self.client.patch(
                PODS, name, {"status": status}, ns, patch_type="merge", subresource="status"
            )
        except NotFound:
            return  # deleted meanwhile: upstream's status manager skips it too
        except ApiError as err:
            if err.code not in (405, 415):
                raise
        try:
            current = await self.client.get(PODS, name, ns)
            current["status"] = status
            await self.client.update_status(PODS, current)
        except NotFound:
            return

    async def delete_pod(self, pod: Obj) -> None:
        meta = pod.get("metadata") or {}
        try:
            await self.client.delete(
                PODS, meta.get("name", ""), meta.get("namespace"), uid=meta.get("uid"), grace_period_seconds=0
            )
        except (NotFound, Conflict):
            return

    # ---- node -----------------------------------------------------------------------------
    async def register_node(self, node: dict[str, Any]) -> dict[str, Any]:
        """Create the Node, or merge our labels/taints into an existing one."""
        name = node["metadata"]["name"]
        try:
            return await self.client.create(NODES, node)
        except ApiError as err:
            if err.code != 409:
                raise
        patch = {"metadata": {"labels": node["metadata"]["labels"]}}
        if node.get("spec", {}).get("taints"):
            patch["spec"] = {"taints": node["spec"]["taints"]}
        return await self.client.patch(NODES, name, patch)

    async def patch_node_status(self, name: str, status: dict[str, Any]) -> dict[str, Any]:
        return await self.client.patch(NODES, name, {"status": status}, subresource="status")

    async def get_node(self, name: str) -> dict[str, Any] | None:
        try:
            return await self.client.get(NODES, name)
        except NotFound:
            return None

