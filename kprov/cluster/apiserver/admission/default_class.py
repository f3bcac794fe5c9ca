"""Which class is the default: shared by the DefaultStorageClass and DefaultIngressClass plugins.

Both pick, among the classes annotated as default, the newest one (ties: the lower name), as
upstream does since 1.26. The watch cache answers; when it knows no default, etcd is asked,
so a class created a moment ago counts (claims and Ingresses are rare writes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kprov.cluster.apiserver.context import ApiContext

__all__ = ["find_default_class", "newest_default"]

Obj = dict[str, Any]


def newest_default(classes: list[Obj], is_default: Callable[[Obj], bool]) -> str | None:
    """The default among ``classes``: the newest one ``is_default`` accepts (ties: the lower name)."""
    defaults = [c for c in classes if is_default(c)]
    if not defaults:
        return None
    # newest first, ties by the lower name (upstream sorts the same way); two stable sorts
    by_name = sorted(defaults, key=lambda c: str((c.get("metadata") or {}).get("name") or ""))
    newest = sorted(
        by_name, key=lambda c: str((c.get("metadata") or {}).get("creationTimestamp") or ""), reverse=True
    )
    return str(newest[0]["metadata"]["name"])


async def find_default_class(ctx: ApiContext, group: str, resource: str,
                             is_default: Callable[[Obj], bool]) -> str | None:
    """The default class of the cluster-scoped ``group/v1 resource``, or None."""
    info = ctx.registry.get(group, "v1", resource)
    if info is None:
        return None
    prefix = ctx.prefix(info, "")
    found = newest_default(list(ctx.cache.objects(prefix)), is_default)
    if found is None:  # the cache may not hold a class made a moment ago: etcd decides a miss
        page = await ctx.store.list(prefix)
        found = newest_default([item.obj for item in page.items], is_default)
    return found
