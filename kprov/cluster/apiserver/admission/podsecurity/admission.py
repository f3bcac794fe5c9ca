"""PodSecurity in the API server's write path (upstream's built-in ``PodSecurity`` plugin).

:func:`validate` runs in the validating phase, after every mutation of the object (the
built-in defaults, LimitRanger, mutating webhooks) and its validation, and before the
validating webhooks, as kube-apiserver orders its plugins. It reads the namespace from the
watch cache (etcd on a miss) and, for a namespace whose enforce label tightens, that
namespace's pods from the watch cache. A refusal raises the Status error; warnings and
audit annotations go to the request's sinks (:mod:`kprov.cluster.apiserver.request.warning`).
The plugin object is the server's one :class:`PodSecurity` (made from
``--admission-control-config-file`` at start-up; defaults when absent), and
``--disable-admission-plugins=PodSecurity`` turns it off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.cluster.api.resources import ResourceInfo
from kprov.cluster.apiserver.admission.podsecurity.configuration import PLUGIN_NAME, PodSecurityConfig
from kprov.cluster.apiserver.admission.podsecurity.levels import AUDIT_ANNOTATION_PREFIX
from kprov.cluster.apiserver.admission.podsecurity.plugin import (
    IGNORED_POD_SUBRESOURCES,
    Decision,
    PodSecurity,
    is_significant_pod_update,
)
from kprov.cluster.apiserver.attributes import AdmissionAttributes
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.warning import add_audit_annotation, add_warning

__all__ = ["plugin_of", "template_of", "validate"]

# the pod controllers, and where their pod template is
_TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "podtemplates"): ("template",),
    ("", "replicationcontrollers"): ("spec", "template"),
    ("apps", "replicasets"): ("spec", "template"),
    ("apps", "deployments"): ("spec", "template"),
    ("apps", "statefulsets"): ("spec", "template"),
    ("apps", "daemonsets"): ("spec", "template"),
    ("batch", "jobs"): ("spec", "template"),
    ("batch", "cronjobs"): ("spec", "jobTemplate", "spec", "template"),
}


def plugin_of(ctx: ApiContext) -> PodSecurity | None:
    """The server's plugin (None when disabled); a context made without one gets the defaults."""
    if PLUGIN_NAME in ctx.config.disable_admission_plugins:
        return None
    return ctx.shared(PodSecurity, _default_plugin)


def _default_plugin() -> PodSecurity:
    return PodSecurity(PodSecurityConfig())


def template_of(info: ResourceInfo, obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    path = _TEMPLATES.get((info.group, info.resource))
    found: Any = obj
    for step in path or ():
        found = found.get(step) if isinstance(found, Mapping) else None
    return found if isinstance(found, Mapping) else None


async def _namespace(ctx: ApiContext, name: str) -> Mapping[str, Any] | None:
    info = ctx.registry.get("", "v1", "namespaces")
    assert info is not None
    key = ctx.key(info, "", name)
    found = await ctx.read_through(key)
    return found


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, str]:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


def _count(plugin: PodSecurity, decision: Decision, operation: str, resource: str, subresource: str) -> None:
    metrics, op = plugin.metrics, operation.lower()
    if decision.exempt:
        metrics.exemption(op, resource, subresource)
    if decision.policy_error:
        metrics.error(False, op, resource, subresource)
    for verdict, level_version, mode in decision.evaluations:
        metrics.evaluation(verdict, level_version, mode, op, resource, subresource)


def _apply(decision: Decision) -> None:
    for text in decision.warnings:
        add_warning(text)
    for key, value in decision.audit_annotations.items():
        add_audit_annotation(AUDIT_ANNOTATION_PREFIX + key, value)
    if decision.denial is not None:
        raise decision.denial


async def validate(ctx: ApiContext, attrs: AdmissionAttributes) -> None:
    """Admit a CREATE or UPDATE of a pod, pod controller or namespace (others: no-op)."""
    info, operation, obj, old = attrs.info, attrs.operation, attrs.obj, attrs.old
    subresource = attrs.subresource
    kind = (info.group, info.resource)
    if kind != ("", "pods") and kind != ("", "namespaces") and kind not in _TEMPLATES:
        return
    plugin = plugin_of(ctx)
    if plugin is None:
        return
    meta = obj.get("metadata") or {}
    if kind == ("", "namespaces"):
        if subresource:
            return
        await _validate_namespace(ctx, plugin, meta.get("name", ""), obj, old)
        return
    if (subresource in IGNORED_POD_SUBRESOURCES) if kind == ("", "pods") else subresource:
        return
    namespace = meta.get("namespace", "")
    user = attrs.user
    label = "pod" if kind == ("", "pods") else "controller"
    exempt = plugin.exemption(namespace, user.name if user is not None else "")
    if exempt is not None:
        _count(plugin, exempt, operation, label, subresource)
        _apply(exempt)
        return
    found = await _namespace(ctx, namespace)
    if found is None:  # (the namespace check refuses the write later; upstream: an internal error)
        return
    if kind == ("", "pods"):
        if operation == "UPDATE" and old is not None and not is_significant_pod_update(obj, old):
            return
        pod_meta, spec = meta, obj.get("spec") or {}
    else:
        template = template_of(info, obj)
        if template is None:
            return
        pod_meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    resource = info.resource if not info.group else f"{info.resource}.{info.group}"
    name, enforce = meta.get("name", ""), kind == ("", "pods")
    decision = plugin.evaluate(_labels(found), resource, name, pod_meta, spec, enforce)
    _count(plugin, decision, operation, label, subresource)
    _apply(decision)


async def _validate_namespace(
    ctx: ApiContext,
    plugin: PodSecurity,
    name: str,
    obj: Mapping[str, Any],
    old: Mapping[str, Any] | None,
) -> None:
    labels = _labels(obj)
    if old is None:
        _apply(plugin.validate_namespace(name, labels, None, None))
        return
    pods_info = ctx.registry.get("", "v1", "pods")
    pods = ctx.cache.scope(ctx.prefix(pods_info, name)) if pods_info is not None else []
    _apply(plugin.validate_namespace(name, labels, _labels(old), pods))
