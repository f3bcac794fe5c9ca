"""pods/eviction honouring PodDisruptionBudgets, as kube-apiserver's eviction REST does.

Design: a pod that cannot count against a budget (Pending, finished, already being deleted)
is deleted at once. Otherwise the budgets of its namespace whose selector matches its labels
decide: none - delete; more than one - 500 (upstream does not support it); one - its status
must have been computed for its current generation (else 429, the budget is still being
processed), and an unready pod under ``unhealthyPodEvictionPolicy: AlwaysAllow`` (or while
the budget is healthy) may go; otherwise it needs ``disruptionsAllowed`` > 0, which this
eviction takes (decrement, the pod recorded in ``disruptedPods``, a compare-and-swap on the
budget) before the pod is deleted. A budget at 0 answers 429 TooManyRequests with upstream's
message and a DisruptionBudget cause.
"""

from __future__ import annotations

import copy
from typing import Any

from kprov.cluster.api.objects import get_condition, now_rfc3339
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.selectors import SelectorError, label_selector_from_object
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.deletion import delete_object
from kprov.cluster.apiserver.handlers.writes import guaranteed_update
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.status import ApiError, StatusError, not_found

__all__ = ["VIOLATION", "evict"]

VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


def _matching_budgets(ctx: ApiContext, pod: dict[str, Any]) -> list[dict[str, Any]]:
    info = ctx.registry.get("policy", "v1", "poddisruptionbudgets")
    if info is None:
        return []
    labels = (pod.get("metadata") or {}).get("labels") or {}
    found = []
    for pdb in ctx.cache.objects(ctx.prefix(info, pod["metadata"]["namespace"])):
        try:
            selector = label_selector_from_object((pdb.get("spec") or {}).get("selector") or {})
        except SelectorError:
            continue
        if selector.matches(labels):
            found.append(pdb)
    return found


def _can_ignore_budget(pod: dict[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def _too_many(message: str, cause: str | None = None) -> StatusError:
    details: dict[str, Any] = {}
    if cause:
        details["causes"] = [{"reason": "DisruptionBudget", "message": cause}]
    return StatusError(message, 429, "TooManyRequests", details)


def _unhealthy_may_go(pdb: dict[str, Any], pod: dict[str, Any]) -> bool:
    ready = get_condition(pod, "Ready")
    if ready is not None and ready.get("status") == "True":
        return False
    status = pdb.get("status") or {}
    policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy")
    if policy == "AlwaysAllow":
        return True
    return int(status.get("currentHealthy") or 0) >= int(status.get("desiredHealthy") or 0) > 0


async def _take_disruption(ctx: ApiContext, pdb: dict[str, Any], pod_name: str) -> None:
    info = ctx.registry.get("policy", "v1", "poddisruptionbudgets")
    assert info is not None
    name = pdb["metadata"]["name"]

    def take(live: dict[str, Any]) -> dict[str, Any]:
        meta, status = live["metadata"], live.get("status") or {}
        if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 1):
            raise _too_many(f"the disruption budget {name} is still being processed by the server")
        allowed = int(status.get("disruptionsAllowed") or 0)
        if allowed < 0:
            raise StatusError("pdb disruptions allowed is negative", 403, "Forbidden")
        if allowed == 0:
            raise _too_many(
                VIOLATION,
                f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} healthy pods "
                f"and has {int(status.get('currentHealthy') or 0)} currently",
            )
        disrupted = dict(status.get("disruptedPods") or {})
        disrupted[pod_name] = now_rfc3339()
        live["status"] = {**status, "disruptionsAllowed": allowed - 1, "disruptedPods": disrupted}
        return live

    await guaranteed_update(ctx, info, pdb["metadata"]["namespace"], name, take, subresource="status")


async def evict(
    ctx: ApiContext,
    info: ResourceInfo,
    namespace: str,
    name: str,
    eviction: dict[str, Any],
    user: UserInfo | None = None,
) -> None:
    """Evict pod ``namespace/name`` or raise the Status the real server would answer with;
    the pod is deleted as ``user``, the budget's status written by the server itself."""
    pod = ctx.cache.get(ctx.key(info, namespace, name))
    if pod is None:
        stored = await ctx.store.get(ctx.key(info, namespace, name))
        if stored is None:
            raise not_found(info, name)
        pod = stored.obj
    options = copy.deepcopy((eviction or {}).get("deleteOptions") or {})
    if not _can_ignore_budget(pod):
        budgets = _matching_budgets(ctx, pod)
        if len(budgets) > 1:
            raise ApiError(
                "This pod has more than one PodDisruptionBudget, "
                "which the eviction subresource does not support.",
                500,
                "InternalError",
            )
        if budgets and not _unhealthy_may_go(budgets[0], pod):
            await _take_disruption(ctx, budgets[0], name)
    await delete_object(ctx, info, namespace, name, options, user=user)
