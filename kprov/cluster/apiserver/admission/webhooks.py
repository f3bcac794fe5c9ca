"""Admission webhooks: Mutating- and ValidatingWebhookConfigurations (admissionregistration.k8s.io/v1).

Design: on every create, update and delete the server asks the webhooks whose rules match
(operation, API group, version, resource or ``resource/subresource`` with ``*`` wildcards,
scope), whose namespaceSelector matches the object's namespace's labels and whose
objectSelector matches the object's (new or old) labels, and whose matchConditions (CEL,
:mod:`.webhook_conditions`) are all true. Mutating webhooks run first, one
after the other in name order, each seeing the previous ones' JSON patches; validating ones
after the object is validated. Each call is an AdmissionReview v1 POSTed over HTTPS to the
webhook's URL or Service (resolved to a ready endpoint of the Service, the certificate
checked against ``caBundle`` for ``<service>.<namespace>.svc``), within timeoutSeconds
(passed on as ``?timeout=Ns``, as upstream does). A denial is the webhook's status (at
least 400) worded as upstream (``admission webhook "x" denied the request: ...``); a
webhook that cannot be reached fails the request (500, ``failed calling webhook "x":
failed to call webhook: Post "<url>": <cause>``) under failurePolicy Fail and is skipped
under Ignore. An object a mutating webhook patched is defaulted again (a webhook-added
init container gets its terminationMessagePolicy), and a custom object pruned by its
schema, so a webhook cannot store fields the schema does not declare. CONNECT requests
(pods/exec, pods/attach, pods/portforward) are admitted with their options object
(PodExecOptions, ...) as upstream does (:func:`connect`). Requests on the webhook configurations
and admission policies themselves never go to webhooks, so a broken webhook cannot lock out
its own removal. Dry
runs only reach webhooks whose sideEffects are None or NoneOnDryRun.

The configurations are read from the watch cache per request (one dictionary lookup when
there are none).
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from collections.abc import Mapping
from time import perf_counter
from typing import Any

import aiohttp

from kprov.cluster.api.patch.json_patch import apply_json_patch
from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.api.selectors import selector_admits
from kprov.cluster.apiserver import _lib
from kprov.cluster.apiserver.admission.webhook_conditions import ConditionError, conditions_admit
from kprov.cluster.apiserver.attributes import AdmissionAttributes, object_kind
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.latency import count_outside
from kprov.cluster.apiserver.request.status import ApiError, StatusError, bad_request, internal_error
from kprov.cluster.apiserver.webhook_client import webhook_endpoint, webhook_ssl_context
from kprov.cluster.storage import scope_prefix

__all__ = ["connect", "mutate", "validate"]

_GROUP = "admissionregistration.k8s.io"
_MUTATING = scope_prefix(_GROUP, "mutatingwebhookconfigurations")
_VALIDATING = scope_prefix(_GROUP, "validatingwebhookconfigurations")


def _configured(ctx: ApiContext, prefix: str) -> list[tuple[str, Mapping[str, Any]]]:
    """(name, webhook) of every webhook in the configurations under ``prefix``, in order."""
    found = []
    for config in sorted(ctx.cache.scope(prefix), key=lambda c: c["metadata"]["name"]):
        for hook in config.get("webhooks") or []:
            if isinstance(hook, Mapping):
                found.append((str(hook.get("name", "")), hook))
    return found


def _matches_rule(hook: Mapping[str, Any], info: ResourceInfo, operation: str, subresource: str) -> bool:
    resource = f"{info.resource}/{subresource}" if subresource else info.resource
    for rule in hook.get("rules") or []:
        if not isinstance(rule, Mapping):
            continue
        operations = rule.get("operations") or []
        if "*" not in operations and operation not in operations:
            continue
        groups, versions = rule.get("apiGroups") or [], rule.get("apiVersions") or []
        if "*" not in groups and info.group not in groups:
            continue
        if "*" not in versions and info.version not in versions:
            continue
        scope = rule.get("scope") or "*"
        if scope == "Namespaced" and not info.namespaced or scope == "Cluster" and info.namespaced:
            continue
        for pattern in rule.get("resources") or []:
            head, _, sub = str(pattern).partition("/")
            if (head in ("*", info.resource)) and (
                (not sub and not subresource) or sub in ("*", subresource)
            ):
                return True
            if pattern == resource:
                return True
    return False


def _namespace_labels(
    ctx: ApiContext, info: ResourceInfo, obj: Mapping[str, Any], namespace: str
) -> Mapping[str, str] | None:
    if info.group == "" and info.resource == "namespaces":
        return (obj.get("metadata") or {}).get("labels") or {}
    if not info.namespaced:
        return None
    found = ctx.cache.get(f"/registry/namespaces/{namespace}")
    return ((found or {}).get("metadata") or {}).get("labels") or {}


def _applies(
    ctx: ApiContext,
    hook: Mapping[str, Any],
    info: ResourceInfo,
    operation: str,
    subresource: str,
    obj: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    namespace: str,
) -> bool:
    if not _matches_rule(hook, info, operation, subresource):
        return False
    subject = obj or old or {}
    ns_labels = _namespace_labels(ctx, info, subject, namespace)
    if ns_labels is not None and not selector_admits(hook.get("namespaceSelector"), ns_labels):
        return False
    selector = hook.get("objectSelector")
    if selector:
        labels = [((o.get("metadata") or {}).get("labels") or {}) for o in (obj, old) if o]
        return any(selector_admits(selector, label_set) for label_set in labels or [{}])
    return True


def _with_timeout(url: str, seconds: int) -> str:
    return f"{url}{'&' if '?' in url else '?'}timeout={seconds}s"


def _shown_url(hook: Mapping[str, Any], seconds: int) -> str:
    """The webhook's URL as upstream's errors name it (a Service by its DNS name)."""
    config = hook.get("clientConfig") or {}
    if config.get("url"):
        return _with_timeout(str(config["url"]), seconds)
    service = config.get("service") or {}
    host = f"{service.get('name', '')}.{service.get('namespace', '')}.svc:{int(service.get('port') or 443)}"
    return _with_timeout(f"https://{host}{service.get('path') or ''}", seconds)


class _CallError(Exception):
    """The webhook could not be called or answered nonsense (failurePolicy decides)."""


def _review(
    info: ResourceInfo,
    operation: str,
    subresource: str,
    obj: Mapping[str, Any] | None,
    old: Mapping[str, Any] | None,
    dry_run: bool,
    user: Mapping[str, Any],
    target: tuple[str, str],
    subresource_object: bool,
) -> dict[str, Any]:
    namespace, name = target
    group, version, kind_name = info.group, info.version, info.kind
    options: dict[str, Any] | None = {
        "apiVersion": "meta.k8s.io/v1",
        "kind": f"{operation.capitalize()}Options",
    }
    if subresource_object:  # a CONNECT's options (PodAttachOptions, ...), a Binding, an Eviction
        group, version, kind_name = object_kind(info, obj)
        if operation == "CONNECT":
            options = None
    kind = {"group": group, "version": version, "kind": kind_name}
    resource = {"group": info.group, "version": info.version, "resource": info.resource}
    request: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "kind": kind,
        "resource": resource,
        "requestKind": kind,
        "requestResource": resource,
        "name": name,
        "operation": operation,
        "userInfo": dict(user),
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
        "options": options,
    }
    if subresource:
        request["subResource"] = subresource
        request["requestSubResource"] = subresource
    if namespace:
        request["namespace"] = namespace
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


async def _post(ctx: ApiContext, hook: Mapping[str, Any], review: dict[str, Any], seconds: int) -> Any:
    url, server_name = await webhook_endpoint(ctx, hook)
    timeout = aiohttp.ClientTimeout(total=float(seconds))
    connector = aiohttp.TCPConnector(ssl=webhook_ssl_context(hook))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session, session.post(
        _with_timeout(url, seconds),
        json=review,
        server_hostname=server_name,
        headers={"Accept": "application/json"},
    ) as reply:
        if reply.status != 200:
            raise ConnectionError(f"the server responded with status {reply.status}")
        return await reply.json(content_type=None)


async def _call(ctx: ApiContext, hook: Mapping[str, Any], review: dict[str, Any]) -> Mapping[str, Any]:
    """The webhook's AdmissionResponse; _CallError worded as upstream when there is none."""
    seconds = int(hook.get("timeoutSeconds") or 10)
    posting = f'failed to call webhook: Post "{_shown_url(hook, seconds)}"'
    try:
        answer = await _post(ctx, hook, review, seconds)
    except TimeoutError:  # aiohttp's timeouts are TimeoutErrors too
        raise _CallError(f"{posting}: context deadline exceeded") from None
    except (aiohttp.ClientError, ConnectionError, OSError, ValueError) as exc:
        raise _CallError(f"{posting}: {exc}") from None
    response = (answer or {}).get("response") if isinstance(answer, Mapping) else None
    if not isinstance(response, Mapping):
        raise _CallError("received invalid webhook response: the response has no 'response'")
    if response.get("uid") not in (None, review["request"]["uid"]):
        raise _CallError("received invalid webhook response: expected response.uid to match the request's")
    return response


def _denied(name: str, response: Mapping[str, Any]) -> ApiError:
    status = response.get("status") or {}
    code = int(status.get("code") or 0)
    code = code if code >= 400 else 400
    denied = f'admission webhook "{name}" denied the request'
    if status.get("message"):
        message = f"{denied}: {status['message']}"
    elif status.get("reason"):
        message = f"{denied}: {status['reason']}"
    else:
        message = f"{denied} without explanation"
    return StatusError(message, code, str(status.get("reason") or ""), {})


async def _run(
    ctx: ApiContext,
    prefix: str,
    info: ResourceInfo,
    operation: str,
    subresource: str,
    obj: dict[str, Any] | None,
    old: Mapping[str, Any] | None,
    dry_run: bool,
    user: Mapping[str, Any],
    mutating: bool,
    target: tuple[str, str],
    hooks: list[tuple[str, Mapping[str, Any]]],
    subresource_object: bool,
) -> dict[str, Any] | None:
    current = obj
    for name, hook in hooks:
        if not _applies(ctx, hook, info, operation, subresource, current, old, target[0]):
            continue
        review = _review(
            info, operation, subresource, current, old, dry_run, user, target, subresource_object
        )
        try:
            if not conditions_admit(ctx, hook, current, old, review["request"]):
                continue
        except ConditionError as exc:
            if hook.get("failurePolicy", "Fail") == "Ignore":
                continue
            raise internal_error(f'failed calling webhook "{name}": {exc}') from None
        if dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise bad_request(f'admission webhook "{name}" does not support dry run')
        called = perf_counter()
        try:
            response = await _call(ctx, hook, review)
        except _CallError as exc:
            count_outside(perf_counter() - called)
            if hook.get("failurePolicy", "Fail") == "Ignore":
                continue
            raise internal_error(f'failed calling webhook "{name}": {exc}') from None
        count_outside(perf_counter() - called)  # (the user's code: not in the request's SLI latency)
        if not response.get("allowed"):
            raise _denied(name, response)
        patch = response.get("patch")
        if mutating and patch and current is not None:
            if response.get("patchType", "JSONPatch") != "JSONPatch":
                raise internal_error(f'failed calling webhook "{name}": unsupported patch type')
            try:
                operations = json.loads(base64.b64decode(patch))
                current = apply_json_patch(copy.deepcopy(current), operations)
            except (ValueError, TypeError, ApiError) as exc:
                raise internal_error(f'failed calling webhook "{name}": invalid patch: {exc}') from None
            if not subresource_object:  # defaulted (custom objects: pruned too) again, as upstream
                _lib.apply_defaults(info, current)
    return current


async def _run_attrs(ctx: ApiContext, prefix: str, attrs: AdmissionAttributes, mutating: bool) -> Any:
    """The object after the webhooks under ``prefix`` (as it was when none is configured: the
    attributes' views a review needs are only built for a webhook)."""
    if attrs.info.group == _GROUP:
        return attrs.obj  # webhook configurations and admission policies never go to webhooks, as upstream
    hooks = _configured(ctx, prefix)
    if not hooks:
        return attrs.obj
    return await _run(
        ctx,
        prefix,
        attrs.info,
        attrs.operation,
        attrs.subresource,
        attrs.obj,
        attrs.old,
        attrs.dry_run,
        attrs.user_info,
        mutating,
        attrs.namespace_and_name,
        hooks,
        attrs.subresource_object,
    )


async def mutate(ctx: ApiContext, attrs: AdmissionAttributes) -> dict[str, Any]:
    """The object after the matching mutating webhooks' patches (raises on a denial)."""
    result = await _run_attrs(ctx, _MUTATING, attrs, True)
    return result if result is not None else attrs.obj


async def validate(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    """Raises when a matching validating webhook denies the request (or fails under Fail)."""
    await _run_attrs(ctx, _VALIDATING, attrs, False)


async def connect(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    """Admission of a CONNECT (``pods/attach`` and the like): the attributes' object is the
    request's options object (``PodAttachOptions``, ...); mutating webhooks run first, their
    patches have nothing to change, then validating ones. Raises on a denial."""
    await _run_attrs(ctx, _MUTATING, attrs, True)
    await _run_attrs(ctx, _VALIDATING, attrs, False)
