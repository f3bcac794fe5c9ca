"""What follows a write once etcd holds it (upstream's REST storage AfterCreate/AfterDelete).

- A Service that is deleted (or whose create failed after admission claimed its addresses)
  gives its ClusterIP and NodePorts back to the allocators.
- A CustomResourceDefinition this server wrote is served (or no longer) from this moment on
  this server, before its watch cache hears of it.

These are not admission: they run after the store answers, so the chain never calls them.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.context import ApiContext

__all__ = ["after_delete", "after_failed_create", "after_write"]


def after_write(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any] | None, name: str) -> None:
    """A write this server made has been stored (``obj`` None: deleted)."""
    if (info.group, info.resource) == ("apiextensions.k8s.io", "customresourcedefinitions"):
        served = ctx.custom_resources
        if served is not None:
            served.observe(name, obj)


async def after_failed_create(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any]) -> None:
    await after_delete(ctx, info, obj)


async def after_delete(ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any]) -> None:
    if info.group == "" and info.resource == "services":
        allocators = ctx.allocators
        if allocators is not None:
            await allocators.release_service(obj)
