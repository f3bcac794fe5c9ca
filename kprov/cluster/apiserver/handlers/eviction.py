"""``POST pods/<name>/eviction``: a pod deleted only as its PodDisruptionBudget allows, as
kube-apiserver's EvictionREST does it.

Design: the request is a create of the ``eviction`` subresource whose object is the Eviction
(``policy/v1``; a ``policy/v1beta1`` one is the same shape and admitted as v1, as upstream
converts it). Upstream's handler order: mutating admission, the URL's name against the
Eviction's (400), the request's ``dryRun`` carried into the Eviction's ``deleteOptions``
(a different one in each is upstream's 500), validating admission, then the eviction. The chain
runs only the steps that admit a subresource's own object (webhooks, policies,
NamespaceLifecycle, NodeRestriction's: a node evicts only pods bound to it).

The eviction: a pod that cannot count against a budget (Pending, finished, already being
deleted) is deleted at once, with the pod's resourceVersion as a precondition unless it is
finished or going (a pod that turned Running meanwhile is read again: conflicts are
retried, unless the caller gave a resourceVersion precondition of its own). Otherwise the
budgets of its namespace whose non-empty selector matches its labels decide: none - delete;
more than one - a 500 Failure (upstream does not support it); one - an unready pod while the
budget is healthy may go, with the resourceVersion precondition (a conflict is a 429: the pod
may have turned ready); else the budget must have been computed for its generation (429),
have ``disruptionsAllowed`` > 0 (429 with upstream's DisruptionBudget cause) and at most
2,000 ``disruptedPods`` (403), and this eviction takes one (decrement, the pod recorded, the
DisruptionAllowed condition False at 0; nothing written on a dry run) before the pod is
deleted.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from kprov.cluster.api.objects import get_condition, now_rfc3339, set_condition
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.selectors import SelectorError, label_selector_from_object
from kprov.cluster.apiserver.attributes import AdmissionAttributes, Stage
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.handlers.crud import dry_run_values
from kprov.cluster.apiserver.handlers.deletion import delete_object
from kprov.cluster.apiserver.handlers.field_validation import check_subresource_object
from kprov.cluster.apiserver.handlers.writes import guaranteed_update
from kprov.cluster.apiserver.identity import UserInfo
from kprov.cluster.apiserver.request.apirequest import ApiRequest
from kprov.cluster.apiserver.request.negotiation import decode_body, json_response, media_type
from kprov.cluster.apiserver.request.requestinfo import RequestInfo
from kprov.cluster.apiserver.request.status import ApiError, StatusError, bad_request, not_found, refused

__all__ = ["MAX_DISRUPTED_PODS", "VIOLATION", "evict", "handle_eviction"]

VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
# upstream's MaxDisruptedPodSize: evictions approved but not yet seen by the budget's controller
MAX_DISRUPTED_PODS = 2000
_RETRIES = 20  # upstream's EvictionsRetry steps (it sleeps 0.5 s between; a re-read suffices here)
_V1BETA1 = "policy/v1beta1"  # accepted as upstream accepts it, admitted as v1
_SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


async def handle_eviction(
    request: ApiRequest, ctx: ApiContext, info: ResourceInfo, ri: RequestInfo
) -> web.Response:
    """Admit the Eviction as a CREATE of ``pods/eviction``, then evict."""
    body = request.body
    eviction = decode_body(body, media_type(request)) if body.strip() else {}
    if isinstance(eviction, dict) and eviction.get("apiVersion") == _V1BETA1:
        eviction = {**eviction, "apiVersion": "policy/v1"}  # (the same shape)
    eviction = check_subresource_object("policy", "v1", "Eviction", eviction)
    requested = dry_run_values(request)
    chain = ctx.chain
    attrs = AdmissionAttributes(
        info, "CREATE", eviction, None, request.requester, "eviction",
        dry_run="All" in requested, target=(ri.namespace, ri.name),
    )
    attrs = await chain.run(ctx, Stage.MUTATE, attrs)
    eviction = attrs.obj
    if ri.name != str((eviction.get("metadata") or {}).get("name") or ""):
        raise bad_request("name in URL does not match name in Eviction object")
    options = delete_options_of(eviction, requested)
    attrs = attrs.with_object({**eviction, "deleteOptions": options})
    await chain.run(ctx, Stage.VALIDATE, attrs)
    await chain.run(ctx, Stage.STORE, attrs)
    await evict(ctx, info, ri.namespace, ri.name, options, request.requester)
    return json_response(dict(_SUCCESS), status=201)


def delete_options_of(eviction: dict[str, Any], requested: list[str]) -> dict[str, Any]:
    """The Eviction's DeleteOptions with the request's ``dryRun`` carried in (upstream's
    propagateDryRun: a different value in each is an error)."""
    options = copy.deepcopy(eviction.get("deleteOptions") or {})
    own = list(options.get("dryRun") or [])
    if not own:
        if requested:
            options["dryRun"] = list(requested)
    elif requested and own != requested:
        raise ApiError(
            "Non-matching dry-run options in request and content: "
            f"{_go_list(requested)} and {_go_list(own)}",
            500,
            "",
        )
    return options


def _go_list(values: list[str]) -> str:
    """A string slice as Go's ``%v`` prints it."""
    return "[" + " ".join(values) + "]"


async def evict(
    ctx: ApiContext,
    info: ResourceInfo,
    namespace: str,
    name: str,
    options: dict[str, Any],
    user: UserInfo | None = None,
) -> None:
    """Evict pod ``namespace/name`` (``options``: the DeleteOptions) or raise the Status the
    real server would answer with; the pod is deleted as ``user``, the budget's status
    written by the server itself."""
    dry_run = "All" in (options.get("dryRun") or [])
    pinned = _pinned_revision(options) is not None
    pod: dict[str, Any] | None = None
    for attempt in range(_RETRIES):
        pod = await _read_pod(ctx, info, namespace, name)
        if not _can_ignore_budget(pod):
            break
        delete_options = options
        if _enforce_revision(pod) and not pinned:
            delete_options = _with_revision(options, pod)
        try:
            await delete_object(ctx, info, namespace, name, delete_options, dry_run, user=user)
            return
        except ApiError as error:
            if error.code != 409 or pinned or attempt == _RETRIES - 1:
                raise
    assert pod is not None
    budgets = _matching_budgets(ctx, pod)
    if len(budgets) > 1:
        raise ApiError(
            "This pod has more than one PodDisruptionBudget, "
            "which the eviction subresource does not support.",
            500,
            "",
        )
    delete_options = options
    budget_name = ""
    if budgets:
        budget_name = budgets[0]["metadata"]["name"]
        if _unhealthy_may_go(budgets[0], pod):
            delete_options = _with_revision(options, pod)  # not to race the pod turning ready
        else:
            await _take_disruption(ctx, budgets[0], name, dry_run)
    try:
        await delete_object(ctx, info, namespace, name, delete_options, dry_run, user=user)
    except ApiError as error:
        if error.code == 409 and delete_options is not options and not pinned:
            raise _too_many(VIOLATION, _still_processed(budget_name), retry_after=10) from None
        raise


async def _read_pod(ctx: ApiContext, info: ResourceInfo, namespace: str, name: str) -> dict[str, Any]:
    """The pod as etcd holds it (upstream's eviction reads the store, not a cache: the
    resourceVersion it reads is the delete's precondition)."""
    stored = await ctx.store.get(ctx.key(info, namespace, name))
    if stored is None:
        raise not_found(info, name)
    return stored.obj


def _pinned_revision(options: dict[str, Any]) -> Any:
    return (options.get("preconditions") or {}).get("resourceVersion")


def _with_revision(options: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
    """``options`` with the pod's resourceVersion as the delete's precondition."""
    revision = pod["metadata"]["resourceVersion"]
    return {**options, "preconditions": {**(options.get("preconditions") or {}), "resourceVersion": revision}}


def _can_ignore_budget(pod: dict[str, Any]) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def _enforce_revision(pod: dict[str, Any]) -> bool:
    """A pod that may yet count against a budget is deleted only as it was read."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def _matching_budgets(ctx: ApiContext, pod: dict[str, Any]) -> list[dict[str, Any]]:
    """The budgets of the pod's namespace whose selector matches it (an empty or missing
    selector matches nothing here, as upstream's eviction has it)."""
    info = ctx.registry.get("policy", "v1", "poddisruptionbudgets")
    if info is None:
        return []
    labels = (pod.get("metadata") or {}).get("labels") or {}
    found = []
    for pdb in ctx.cache.objects(ctx.prefix(info, pod["metadata"]["namespace"])):
        chosen = (pdb.get("spec") or {}).get("selector")
        if not chosen or not (chosen.get("matchLabels") or chosen.get("matchExpressions")):
            continue
        try:
            selector = label_selector_from_object(chosen)
        except SelectorError:
            continue
        if selector.matches(labels):
            found.append(pdb)
    return found


def _too_many(message: str, cause: str, retry_after: int = 0) -> StatusError:
    details: dict[str, Any] = {"causes": [{"reason": "DisruptionBudget", "message": cause}]}
    if retry_after:
        details["retryAfterSeconds"] = retry_after
    return StatusError(message, 429, "TooManyRequests", details)


def _still_processed(name: str) -> str:
    return f"The disruption budget {name} is still being processed by the server."


def _budget_forbidden(name: str, why: str) -> ApiError:
    return refused("policy", "poddisruptionbudget", name, why)  # (upstream's singular resource)


def _unhealthy_may_go(pdb: dict[str, Any], pod: dict[str, Any]) -> bool:
    ready = get_condition(pod, "Ready")
    if ready is not None and ready.get("status") == "True":
        return False
    status = pdb.get("status") or {}
    policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy")
    if policy == "AlwaysAllow":
        return True
    return int(status.get("currentHealthy") or 0) >= int(status.get("desiredHealthy") or 0) > 0


def taken_disruption(live: dict[str, Any], pod_name: str, now: str) -> dict[str, Any]:
    """The budget ``live`` with one disruption taken for ``pod_name`` (upstream's
    checkAndDecrement), or the refusal raised."""
    meta, status = live["metadata"], dict(live.get("status") or {})
    name = meta["name"]
    if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 1):
        raise _too_many(VIOLATION, _still_processed(name), retry_after=10)
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise _budget_forbidden(name, "pdb disruptions allowed is negative")
    disrupted = dict(status.get("disruptedPods") or {})
    if len(disrupted) > MAX_DISRUPTED_PODS:
        raise _budget_forbidden(
            name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller"
        )
    if allowed == 0:
        raise _too_many(
            VIOLATION,
            f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} healthy pods "
            f"and has {int(status.get('currentHealthy') or 0)} currently",
        )
    status["disruptionsAllowed"] = allowed - 1
    if allowed == 1:
        status["conditions"] = [dict(c) for c in status.get("conditions") or []]
        set_condition(status, {
            "type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods", "message": "",
            "observedGeneration": status.get("observedGeneration"),
        }, now)
    disrupted[pod_name] = now
    status["disruptedPods"] = disrupted
    return {**live, "status": status}


async def _take_disruption(ctx: ApiContext, pdb: dict[str, Any], pod_name: str, dry_run: bool) -> None:
    info = ctx.registry.get("policy", "v1", "poddisruptionbudgets")
    assert info is not None
    now = now_rfc3339()
    if dry_run:  # checked as it is; nothing written
        taken_disruption(pdb, pod_name, now)
        return
    await guaranteed_update(
        ctx, info, pdb["metadata"]["namespace"], pdb["metadata"]["name"],
        lambda live: taken_disruption(live, pod_name, now), subresource="status",
    )
