"""The root-CA publisher: every active namespace has the ConfigMap ``kube-root-ca.crt``
whose ``ca.crt`` is the CA that signs the API server's certificate (the one pods use to
verify https://kubernetes.default.svc, mounted by the ServiceAccount token volume).

The CA is ``--root-ca-file`` or else the CA of the controller manager's own kubeconfig.
A changed or deleted ConfigMap is put back, as upstream's publisher does.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from kprov.cluster.client.errors import AlreadyExists, Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import CONFIGMAPS, NAMESPACES
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["ROOT_CA_CONFIGMAP", "RootCaPublisher"]

ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)


class RootCaPublisher(Controller):
    name = "root-ca-cert-publisher"
    identity = "root-ca-cert-publisher"

    def setup(self) -> None:
        path = self.ctx.options.root_ca_file
        pem = Path(path).read_bytes() if path else (self.client.config.ca_pem or b"")
        self.ca = pem.decode()
        self.namespaces = self.ctx.informers.get(NAMESPACES)
        self.config_maps = self.ctx.informers.get(CONFIGMAPS)
        self.namespaces.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), None))
        self.config_maps.add_handler(EventHandler(None, lambda _o, n: self._config_map(n), self._config_map))

    def _config_map(self, cm: Obj) -> None:
        meta = cm["metadata"]
        if meta.get("name") == ROOT_CA_CONFIGMAP:
            self.queue.add(meta["namespace"])

    def _wanted(self) -> dict[str, object]:
        return {"ca.crt": self.ca}

    async def reconcile(self, key: str) -> float | None:
        if not self.ca:
            return None
        ns = self.namespaces.store.get(key)
        if (
            ns is None
            or ns["metadata"].get("deletionTimestamp")
            or (ns.get("status") or {}).get("phase") == "Terminating"
        ):
            return None
        current = self.config_maps.store.get(f"{key}/{ROOT_CA_CONFIGMAP}")
        if current is None:
            body = {
                "metadata": {
                    "name": ROOT_CA_CONFIGMAP,
                    "namespace": key,
                    "annotations": {"kubernetes.io/description": _DESCRIPTION},
                },
                "data": self._wanted(),
            }
            with contextlib.suppress(AlreadyExists, NotFound):
                await self.client.create(CONFIGMAPS, body)
            return None
        annotations = current["metadata"].get("annotations") or {}
        if current.get("data") == self._wanted() and "kubernetes.io/description" in annotations:
            return None
        # an update, as upstream's (its role may create and update ConfigMaps, nothing more)
        described = {**annotations, "kubernetes.io/description": _DESCRIPTION}
        meta = {**current["metadata"], "annotations": described}
        with contextlib.suppress(NotFound, Conflict):  # changed meanwhile: the watch brings it back
            await self.client.update(CONFIGMAPS, {**current, "metadata": meta, "data": self._wanted()})
        return None
