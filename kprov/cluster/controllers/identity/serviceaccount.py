"""ServiceAccounts: every active namespace has a ServiceAccount named ``default``."""

from __future__ import annotations

import contextlib

from kprov.cluster.client.errors import AlreadyExists
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import NAMESPACES, SERVICEACCOUNTS
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["ServiceAccountController"]


class ServiceAccountController(Controller):
    name = "serviceaccount"
    identity = "service-account-controller"

    def setup(self) -> None:
        self.namespaces = self.ctx.informers.get(NAMESPACES)
        self.accounts = self.ctx.informers.get(SERVICEACCOUNTS)
        self.namespaces.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), None))
        self.accounts.add_handler(EventHandler(None, None, self._account_deleted))

    def _account_deleted(self, sa: Obj) -> None:
        if sa["metadata"]["name"] == "default":
            self.queue.add(sa["metadata"]["namespace"])

    async def reconcile(self, key: str) -> float | None:
        ns = self.namespaces.store.get(key)
        if (
            ns is None
            or ns["metadata"].get("deletionTimestamp")
            or (ns.get("status") or {}).get("phase") == "Terminating"
        ):
            return None
        if self.accounts.store.get(f"{key}/default") is not None:
            return None
        with contextlib.suppress(AlreadyExists):
            await self.client.create(SERVICEACCOUNTS, {"metadata": {"name": "default", "namespace": key}})
        return None
