"""ResourceQuota admission: refuse a create that would take a namespace past a quota, and
charge what it uses to the quota's ``status.used`` (as kube-apiserver's ResourceQuota plugin).

Design: the quotas of the object's namespace come from the watch cache. A quota whose
``spec.hard`` names nothing the object uses, or whose scopes do not match it, is
skipped; one whose status the quota controller
has not yet computed refuses (403, "status unknown for quota"); a pod leaving a constrained
compute resource unset is refused ("failed quota ... must specify"). Charging is a
compare-and-swap on each quota's status, re-checking the limit on the fresh copy, so
two racing creates cannot both take the last unit. The compare-and-swap is the handlers'
guaranteed update, given to :class:`ResourceQuota` when the server builds its admission
chain (admission sits below the handlers, so it is handed the writer, never imports it).
Messages are upstream's:
``pods "x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from kprov.cluster.api.kinds.quota import (
    exceeded,
    fmt,
    matches_scopes,
    missing_requests,
    parse_list,
    pretty,
    usage,
)
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.attributes import AdmissionAttributes
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.status import StatusError, refused

__all__ = ["ResourceQuota", "Update"]

Update = Callable[..., Awaitable[dict[str, Any]]]


def _forbidden(info: ResourceInfo, name: str, reason: str) -> StatusError:
    return refused(info.group, info.resource, name, reason)


class ResourceQuota:
    """The plugin's step: ``await ResourceQuota(update)(ctx, attrs)`` admits and charges a create."""

    def __init__(self, update: Update) -> None:
        self.update = update

    async def __call__(self, ctx: ApiContext, attrs: AdmissionAttributes) -> None:
        await _admit(ctx, attrs.info, attrs.obj, attrs.dry_run, self.update)


async def _admit(
    ctx: ApiContext, info: ResourceInfo, obj: dict[str, Any], dry_run: bool, update: Update
) -> None:
    quota_info = ctx.registry.get("", "v1", "resourcequotas")
    if quota_info is None or not info.namespaced:
        return
    namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
    quotas = sorted(ctx.cache.objects(ctx.prefix(quota_info, namespace)), key=lambda q: q["metadata"]["name"])
    if not quotas:
        return
    request = usage(info.resource, info.group, obj)
    charges: list[tuple[str, dict[str, Decimal]]] = []
    for quota in quotas:
        quota_name = quota["metadata"]["name"]
        if not matches_scopes(quota, info.resource, info.group, obj):
            continue
        hard = parse_list((quota.get("spec") or {}).get("hard"))
        if info.group == "" and info.resource == "pods" and request:
            missing = missing_requests(hard, obj)
            if missing:
                raise _forbidden(info, name, f"failed quota: {quota_name}: must specify {'; '.join(missing)}")
        relevant = {k: v for k, v in request.items() if k in hard}
        if not relevant:
            continue
        if not (quota.get("status") or {}).get("hard"):
            raise _forbidden(
                info, name, f"status unknown for quota: {quota_name}, resources: {','.join(sorted(relevant))}"
            )
        charges.append((quota_name, relevant))
    for quota_name, relevant in charges:

        def charge(
            live: dict[str, Any], quota_name: str = quota_name, relevant: dict = relevant
        ) -> dict[str, Any]:
            status = live.get("status") or {}
            hard = parse_list(status.get("hard"))
            used = parse_list(status.get("used"))
            over = exceeded(hard, used, relevant)
            if over:
                raise _forbidden(
                    info,
                    name,
                    f"exceeded quota: {quota_name}, requested: {pretty(over, relevant)}, "
                    f"used: {pretty(over, used)}, limited: {pretty(over, hard)}",
                )
            new_used = dict(status.get("used") or {})
            for key, amount in relevant.items():
                new_used[key] = fmt(key, used.get(key, Decimal(0)) + amount)
            live["status"] = {**status, "used": new_used}
            return live

        await update(ctx, quota_info, namespace, quota_name, charge, subresource="status", dry_run=dry_run)
