"""ValidatingAdmissionPolicy in the API server's write path (upstream's built-in plugin).

:func:`validate` runs in the validating phase of every create, update and delete (after
PodSecurity, before the validating webhooks). It reads the bindings from the watch cache on
every request, so a binding takes effect as soon as the cache has it (its watch, well under
a second), and with no binding stored a request costs two change marks and a dictionary
lookup. For each
binding whose policy exists and matches (the policy's ``matchConstraints``, then the
binding's ``matchResources``), the params are collected (``paramKind`` + ``paramRef``: by
name or selector, in ``paramRef.namespace`` or the request's namespace for a namespaced
param kind; none found: ``parameterNotFoundAction`` Deny fails by the failure policy, Allow
admits), and the compiled policy (cached per uid and generation in
the plugin's per-server caches) is evaluated once per param. What a request pays is kept small
(docs/decisions/0049): the bindings' order, the compiled policies and the outcomes of
selector-free match rules are remembered per stored object, and the request's values are
converted into CEL once, after matching, pruned to the fields the matching policies read.
When no binding or policy has a selector or ``resourceNames``, which bindings a request
selects depends on its kind of request alone: the selection (with the values it reads and
the programs of its one-rule policies) is remembered per kind of request under the watch
cache's change marks of the bindings' and policies' scopes (any event there moves them), so
a request that finds it reads neither scope, and a request whose policies all hold runs those programs
in one loop (tests/bench/bench_vap.py measures it; the figures: docs/decisions/0049). Such a
remembered selection whose policies read nothing but ``object`` also remembers, per group of
policies reading the same fields, the inputs (those
fields as JSON) they all held for: a request whose every group held before runs no CEL, and
one with new inputs converts and runs only what the new inputs' groups read, each group's
validations as one program (:func:`conjunction`). In a busy
server the CEL binding's calls cost several times their in-loop figure (caches cold), so
not calling it is the saving: a Deployment's replicas, a Job's pods, a restarted
DaemonSet's share their inputs for any policy that reads no name, and a rule reading only a
name's size() decides once per length (:func:`held_key`).
Failures act by the binding's ``validationActions``: Deny refuses the request
(upstream's ``<resource> "<name>" is forbidden: ValidatingAdmissionPolicy '<p>' with
binding '<b>' denied request: <message>``
with the decision's reason and its code), Warn adds a warning, Audit an audit annotation
``validation.policy.admission.k8s.io/validation_failure``. A CONNECT (``pods/exec``...) is
admitted with its options object as ``object``, as upstream does. Requests on the admission
configuration kinds themselves are exempt, as upstream's. The ``authorizer`` variable is
not offered (see docs/decisions/0028).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.cel.lib_authz import deciding
from kprov.cluster.api.errors import Cause
from kprov.cluster.api.resources import ResourceInfo, split_api_version
from kprov.cluster.api.selectors import SelectorError, label_selector_from_object
from kprov.cluster.apiserver.admission.vap.authorizer import authorizer_variable, decider_of
from kprov.cluster.apiserver.admission.vap.evaluator import (
    CompiledPolicy,
    activation_of,
    all_true,
    compile_policy,
    conjunction,
)
from kprov.cluster.apiserver.admission.vap.matching import Attributes, MatchMemo
from kprov.cluster.apiserver.admission.vap.reads import ReadTree, held_key, merge_reads, prune
from kprov.cluster.apiserver.attributes import AdmissionAttributes
from kprov.cluster.apiserver.context import ApiContext
from kprov.cluster.apiserver.request.status import StatusError
from kprov.cluster.apiserver.request.warning import add_audit_annotation, add_warning
from kprov.cluster.storage import object_key, scope_prefix

__all__ = ["FAILURE_ANNOTATION", "PLUGIN_NAME", "validate"]

PLUGIN_NAME = "ValidatingAdmissionPolicy"  # --disable-admission-plugins switches it off

_GROUP = "admissionregistration.k8s.io"
_BINDINGS = scope_prefix(_GROUP, "validatingadmissionpolicybindings")
_POLICIES = scope_prefix(_GROUP, "validatingadmissionpolicies")
_EXEMPT = frozenset(
    {
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
        "mutatingadmissionpolicies",
        "mutatingadmissionpolicybindings",
    }
)
FAILURE_ANNOTATION = "validation.policy.admission.k8s.io/validation_failure"
_GO_HTML_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})
_CODES = {"Unauthorized": 401, "Forbidden": 403, "RequestEntityTooLarge": 413, "Invalid": 422}


class _ParamError(Exception):
    pass


@dataclass(frozen=True)
class _Binding:
    obj: dict[str, Any]
    name: str
    policy_key: str
    match_resources: MatchMemo
    actions: tuple[str, ...]  # spec.validationActions


@dataclass(frozen=True)
class _Policy:
    obj: dict[str, Any]
    compiled: CompiledPolicy
    match_constraints: MatchMemo
    without_params: bool  # no spec.paramKind


_Selected = tuple[_Binding, dict[str, Any], CompiledPolicy, bool]  # (binding, policy, compiled, param-less)


_HELD_MAX = 4096  # inputs remembered per group of policies (then forgotten at once)


@dataclass(frozen=True)
class _Group:
    """The selected policies that read the same fields of ``object`` and nothing else, their
    validations as few programs as hold together (:func:`conjunction`: one call into the
    binding, not one per validation), and the inputs (those fields, as JSON) every one of
    them held for."""

    tree: ReadTree
    programs: tuple[Any, ...]
    held: set[bytes] = field(default_factory=set)

    def remember(self, key: bytes) -> None:
        if len(self.held) >= _HELD_MAX:
            self.held.clear()
        self.held.add(key)


@dataclass(frozen=True)
class _Selection:
    """The bindings a kind of request selects, what they read and, when every selected
    policy is a param-less one of validations only, all their programs in binding order;
    when those policies read nothing but ``object`` and the selection is remembered, the
    same programs grouped by the fields they read (:class:`_Group`)."""

    entries: list[_Selected]
    reads: Mapping[str, ReadTree]
    all_plain: tuple[Any, ...] | None
    groups: tuple[_Group, ...] | None = None
    merged: dict[tuple[int, ...], ReadTree] = field(default_factory=dict)  # groups' trees together

    def tree_of(self, groups: tuple[int, ...]) -> ReadTree:
        """What the groups numbered ``groups`` read of ``object``, merged once."""
        found = self.merged.get(groups, _UNSET)
        if found is _UNSET:
            assert self.groups is not None
            found = self.merged[groups] = merge_reads(
                {"object": self.groups[i].tree} for i in groups
            ).get("object")
        return found  # type: ignore[return-value]


_UNSET: Any = object()


def _select(
    ctx: ApiContext, bindings: list[_Binding], attrs: Attributes, namespace_labels: Mapping[str, str] | None
) -> list[_Selected]:
    selected: list[_Selected] = []
    for binding in bindings:
        stored = ctx.cache.get(binding.policy_key)
        if stored is None:
            continue
        known = _policy(ctx, stored)
        if not known.match_constraints.matches(attrs, namespace_labels):
            continue
        if not binding.match_resources.matches(attrs, namespace_labels):
            continue
        selected.append((binding, stored, known.compiled, known.without_params))
    return selected


@dataclass
class _Caches:
    """What the plugin keeps per server (:meth:`ApiContext.shared`), each bounded where filled."""

    selections: dict[tuple[Any, ...], _Selection] = field(default_factory=dict)
    bindings: dict[tuple[int, ...], tuple[list[dict[str, Any]], list[_Binding]]] = field(default_factory=dict)
    objects: dict[int, _Policy] = field(default_factory=dict)  # a stored policy's id -> compiled
    compiled: dict[tuple[str, int], CompiledPolicy] = field(default_factory=dict)  # (uid, generation)
    reads: dict[tuple[int, ...], tuple[list[CompiledPolicy], Mapping[str, ReadTree]]] = field(
        default_factory=dict
    )
    activation: Any = None  # the one CEL context


def _caches(ctx: ApiContext) -> _Caches:
    return ctx.shared(_Caches, _Caches)


def _selection(
    ctx: ApiContext, attrs: Attributes, namespace_labels: Mapping[str, str] | None, memo_key: tuple[Any, ...],
) -> _Selection:
    """The request's selection, remembered under ``memo_key`` (the stored bindings' and
    policies' change marks and the kind of request) when no match rule depends on more than
    the kind of request."""
    memo = _caches(ctx).selections
    if len(memo) > 1000:
        memo.clear()
    stored_bindings = ctx.cache.scope(_BINDINGS)
    if not stored_bindings:  # (no policy is compiled while nothing binds one)
        selection = memo[memo_key] = _Selection([], {}, None)
        return selection
    bindings = _bindings(ctx, stored_bindings)
    policies = ctx.cache.scope(_POLICIES)
    entries = _select(ctx, bindings, attrs, namespace_labels)
    plain = [c.plain_programs for _, _, c, without_params in entries if without_params]
    all_plain = (
        tuple(p for programs in plain for p in programs or ())
        if len(plain) == len(entries) and all(p is not None for p in plain) else None
    )
    reads = _reads(ctx, [c for _, _, c, _ in entries]) if entries else {}
    by_shape = all(b.match_resources.by_shape for b in bindings) and all(
        _policy(ctx, p).match_constraints.by_shape for p in policies
    )
    if not by_shape:
        return _Selection(entries, reads, all_plain)
    groups = _groups(entries) if all_plain is not None and entries else None
    selection = memo[memo_key] = _Selection(entries, reads, all_plain, groups)
    return selection


def _groups(entries: list[_Selected]) -> tuple[_Group, ...] | None:
    """The entries' validations grouped by what they read of ``object`` (None when a policy
    reads another request value: its outcome is not a function of the object alone)."""
    trees: dict[str, tuple[ReadTree, dict[str, Any]]] = {}
    for _, _, compiled, _ in entries:
        if compiled.reads & _OTHER_INPUTS or compiled.plain_programs is None:
            return None
        tree = compiled.field_reads.get("object")
        shape = json.dumps(tree, sort_keys=True)
        programs = trees.setdefault(shape, (tree, {}))[1]
        programs.update((v.expression.text, v.expression.program) for v in compiled.validations)
    return tuple(_Group(tree, conjunction(programs)) for tree, programs in trees.values())


def _bindings(ctx: ApiContext, stored: list[dict[str, Any]]) -> list[_Binding]:
    """The stored bindings in name order, with what a request needs of each, computed once
    per set of binding objects (the watch cache replaces an object when it changes; the
    entry holds them, so no identity is reused while it lives)."""
    cache = _caches(ctx).bindings
    key = tuple(map(id, stored))
    found = cache.get(key)
    if found is None:
        if len(cache) > 100:
            cache.clear()
        entries = []
        for binding in sorted(stored, key=lambda b: str(b["metadata"]["name"])):
            spec = binding.get("spec") or {}
            policy = object_key(_GROUP, "validatingadmissionpolicies", "", str(spec.get("policyName", "")))
            name = str(binding["metadata"]["name"])
            actions = tuple(spec.get("validationActions") or ())
            entries.append(_Binding(binding, name, policy, MatchMemo(spec.get("matchResources")), actions))
        found = cache[key] = (stored, entries)
    return found[1]


def _policy(ctx: ApiContext, policy: dict[str, Any]) -> _Policy:
    """The policy compiled, with its matchConstraints' memo, once per stored object (the
    entry holds it, so no identity is reused while it lives)."""
    by_object = _caches(ctx).objects
    seen = by_object.get(id(policy))
    if seen is not None and seen.obj is policy:
        return seen
    if len(by_object) > 1000:
        by_object.clear()
    spec = policy.get("spec") or {}
    constraints = MatchMemo(spec.get("matchConstraints") or {})
    seen = _Policy(policy, _compiled(ctx, policy), constraints, not spec.get("paramKind"))
    by_object[id(policy)] = seen
    return seen


def _compiled(ctx: ApiContext, policy: Mapping[str, Any]) -> CompiledPolicy:
    cache = _caches(ctx).compiled
    meta = policy.get("metadata") or {}
    key = (str(meta.get("uid", "")), int(meta.get("generation") or 0))
    found = cache.get(key)
    if found is None:
        if len(cache) > 1000:
            cache.clear()
        found = cache[key] = compile_policy(policy)
    return found


def _activation(ctx: ApiContext) -> Any:
    """The server's one CEL context, its standard library loaded once, not on every
    request. Sharing it is safe: a request's evaluation never awaits, so no other request
    runs in between, and every value a policy reads is set for the current request first
    (``converted`` starts empty per request; params and variables per policy)."""
    caches = _caches(ctx)
    if caches.activation is None:
        caches.activation = activation_of({})
    return caches.activation


def _reads(ctx: ApiContext, policies: list[CompiledPolicy]) -> Mapping[str, ReadTree]:
    """What ``policies`` read of the request values, together (``request`` and ``params``
    whole, the objects as :attr:`CompiledPolicy.field_reads`), merged once per set of
    policies: cached by their identities, the entry holding them so no identity is reused
    while it lives."""
    cache = _caches(ctx).reads
    key = tuple(map(id, policies))
    found = cache.get(key)
    if found is None:
        if len(cache) > 1000:
            cache.clear()
        values = frozenset().union(*(p.reads for p in policies)) & _REQUEST_VALUES
        merged = merge_reads(p.field_reads for p in policies)
        found = cache[key] = (policies, {v: merged.get(v) for v in sorted(values)})
    return found[1]


def _set_request_values(
    activation: Any, reads: Mapping[str, ReadTree], attrs: Attributes, namespace: Mapping[str, Any] | None
) -> None:
    """Convert into ``activation`` the request values ``reads`` names, pruned to what is read
    (once per request: every policy's evaluation shares them)."""
    for variable, tree in reads.items():
        activation.add_variable(variable, prune(_request_value(variable, attrs, namespace), tree))


def _namespace(ctx: ApiContext, name: str) -> Mapping[str, Any] | None:
    return ctx.cache.get(f"/registry/namespaces/{name}") if name else None


def _params(
    ctx: ApiContext, policy: Mapping[str, Any], binding: Mapping[str, Any], namespace: str
) -> Sequence[Any]:
    """The params objects (``(None,)`` when the policy has no paramKind)."""
    kind = (policy.get("spec") or {}).get("paramKind")
    if not kind:
        return _NO_PARAMS
    ref = (binding.get("spec") or {}).get("paramRef")
    if not ref:
        raise _ParamError("paramKind non-nil but paramRef is nil")
    group, version = split_api_version(str(kind.get("apiVersion", "")))
    info = ctx.registry.by_kind(str(kind.get("kind", "")), group)
    if info is None:
        raise _ParamError(
            f"failed to find resource referenced by paramKind: '{group}/{version}, Kind={kind.get('kind')}'"
        )
    where = ""
    if info.namespaced:
        where = str(ref.get("namespace") or namespace)
        if not where:
            raise _ParamError(
                "cannot use namespaced paramRef in policy binding that matches cluster-scoped resources"
            )
    found: list[Any]
    if ref.get("name"):
        obj = ctx.cache.get(ctx.key(info, where, str(ref["name"])))
        found = [obj] if obj is not None else []
    else:
        try:
            selector = label_selector_from_object(ref.get("selector") or {})
        except (SelectorError, ValueError) as exc:
            raise _ParamError(str(exc)) from None
        found = [
            o
            for o in ctx.cache.scope(ctx.prefix(info, where))
            if selector.matches(dict((o.get("metadata") or {}).get("labels") or {}))
        ]
    if not found:
        if ref.get("parameterNotFoundAction", "Deny") == "Deny":
            raise _ParamError("no params found for policy binding with `Deny` parameterNotFoundAction")
        return []
    return [{"apiVersion": kind.get("apiVersion"), "kind": kind.get("kind"), **o} for o in found]


_REQUEST_VALUES = frozenset({"object", "oldObject", "request", "namespaceObject", "authorizer"})
_OTHER_INPUTS = frozenset({"oldObject", "request", "namespaceObject", "params", "variables", "authorizer"})
_NO_PARAMS: tuple[Any, ...] = (None,)


def _request_value(variable: str, attrs: Attributes, namespace: Mapping[str, Any] | None) -> Any:
    if variable == "object":
        return attrs.obj
    if variable == "oldObject":
        return attrs.old
    if variable == "request":
        return _request(attrs)
    if variable == "authorizer":
        resource = {"group": attrs.group, "resource": attrs.resource, "subresource": attrs.subresource}
        return authorizer_variable(attrs.user, {**resource, "namespace": attrs.namespace, "name": attrs.name})
    return _namespace_object(namespace)


def _request(attrs: Attributes) -> dict[str, Any]:
    kind_group, kind_version = attrs.kind_group_version or (attrs.group, attrs.version)
    gvk = {"group": kind_group, "version": kind_version, "kind": attrs.kind}
    gvr = {"group": attrs.group, "version": attrs.version, "resource": attrs.resource}
    return {
        "kind": gvk,
        "resource": gvr,
        "subResource": attrs.subresource,
        "requestKind": gvk,
        "requestResource": gvr,
        "requestSubResource": attrs.subresource,
        "name": attrs.name,
        "namespace": attrs.namespace,
        "operation": attrs.operation,
        "userInfo": dict(attrs.user),
        "dryRun": attrs.dry_run,
    }


def _namespace_object(found: Mapping[str, Any] | None) -> Any:
    if found is None:
        return None
    meta = found.get("metadata") or {}
    kept = ("name", "generateName", "uid", "labels", "annotations", "creationTimestamp", "deletionTimestamp")
    return {
        "metadata": {k: meta[k] for k in kept if k in meta},
        "spec": found.get("spec") or {},
        "status": found.get("status") or {},
    }


def _resource_name(info: ResourceInfo) -> str:
    return f"{info.resource}.{info.group}" if info.group else info.resource


def _denial(info: ResourceInfo, name: str, message: str, reason: str) -> StatusError:
    reason = reason or "Invalid"
    text = f'{_resource_name(info)} "{name}" is forbidden: {message}'
    details: dict[str, Any] = {"name": name, "group": info.group, "kind": info.resource}
    if not info.group:
        details = {"name": name, "kind": info.resource}
    error = StatusError(text, _CODES.get(reason, 422), reason, details)
    error.causes = [Cause("", "", message)]
    return error


def _attributes(attrs: AdmissionAttributes) -> Attributes:
    """The request as the policies' CEL sees it (a CONNECT's kind is its options object's, a
    binding's the Binding's)."""
    info, obj = attrs.info, attrs.obj
    namespace, name = attrs.namespace_and_name
    kind_group, kind_version, kind = attrs.kind
    return Attributes(
        group=info.group,
        version=info.version,
        resource=info.resource,
        kind=kind,
        kind_group_version=(kind_group, kind_version),
        operation=attrs.operation,
        name=name,
        namespace=namespace if info.namespaced else "",
        namespaced=info.namespaced,
        subresource=attrs.subresource,
        obj=obj,
        old=attrs.old,
        user=attrs.user_info,
        dry_run=attrs.dry_run,
    )


async def validate(ctx: ApiContext, admission: AdmissionAttributes) -> None:
    """Admit a CREATE, UPDATE, DELETE or CONNECT by the bound policies (raises the
    denial); a CONNECT's object is its options object, its target (namespace, name)."""
    info = admission.info
    if info.group == _GROUP and info.resource in _EXEMPT:
        return
    if PLUGIN_NAME in ctx.config.disable_admission_plugins:
        return
    memo_key = (
        ctx.cache.changes(_BINDINGS),
        ctx.cache.changes(_POLICIES),
        admission.operation,
        info.group,
        info.version,
        info.resource,
        admission.subresource,
        info.namespaced,
    )
    selection = _caches(ctx).selections.get(memo_key)
    if selection is not None:  # (the kind of request alone decided; no binding changed since)
        if not selection.entries:
            return
        groups = selection.groups
        if groups is not None and _held_before(selection, groups, admission.obj, _activation(ctx)):
            return
    attrs = _attributes(admission)
    namespace = _namespace(ctx, attrs.namespace) if info.namespaced else None
    if selection is None:
        namespace_labels = (
            ((namespace or {}).get("metadata") or {}).get("labels") or {} if info.namespaced else None
        )
        selection = _selection(ctx, attrs, namespace_labels, memo_key)
        if not selection.entries:
            return
    activation = _activation(ctx)
    _set_request_values(activation, selection.reads, attrs, namespace)
    if "authorizer" in selection.reads:  # its checks ask this server's authorizer
        with deciding(decider_of(ctx)):
            _evaluate(ctx, info, selection, activation, attrs)
    else:
        _evaluate(ctx, info, selection, activation, attrs)


def _evaluate(
    ctx: ApiContext, info: ResourceInfo, selection: _Selection, activation: Any, attrs: Attributes
) -> None:
    """Run the selected policies against the request's values (raises the first denial)."""
    if selection.all_plain is not None and all_true(selection.all_plain, activation):
        return  # (the common case, kept short: every validation of every policy held)
    denials: list[tuple[str, str]] = []  # (message, reason)
    for bound, policy, compiled, without_params in selection.entries:
        if without_params and compiled.holds(activation):
            continue
        _judge(ctx, bound, policy, compiled, activation, attrs.namespace, denials)
    if denials:
        message, reason = denials[0]
        raise _denial(info, attrs.name, message, reason)


def _held_before(selection: _Selection, groups: tuple[_Group, ...], obj: Any, activation: Any) -> bool:
    """Whether every policy holds for ``obj``, answered for each group of policies from the
    inputs it held for before, and by running only the other groups' programs (on ``obj``
    pruned to what they read: the conversion into CEL is what a policy costs). An outcome
    depends on nothing but those fields (the policies read no other request value, and
    CEL's functions are pure), so an input that held holds again: a Deployment's replicas
    are admitted without CEL once the first one was. False: a program did not hold (or the
    input is not JSON): the caller evaluates in full, for the messages."""
    unknown: list[tuple[int, bytes]] = []
    for index, group in enumerate(groups):
        try:
            key = held_key(obj, group.tree)
        except TypeError:
            return False
        if key not in group.held:
            unknown.append((index, key))
    if not unknown:
        return True
    tree = selection.tree_of(tuple(index for index, _ in unknown))
    activation.add_variable("object", prune(obj, tree))
    every = True
    for index, key in unknown:
        if all_true(groups[index].programs, activation):
            groups[index].remember(key)
        else:
            every = False
    return every


def _judge(
    ctx: ApiContext,
    bound: _Binding,
    policy: dict[str, Any],
    compiled: CompiledPolicy,
    activation: Any,
    namespace: str,
    denials: list[tuple[str, str]],
) -> None:
    """Evaluate one bound policy (once per param) and act on what fails by the binding's
    validationActions: denials appended, warnings and audit annotations added."""
    policy_name = policy["metadata"]["name"]
    prefix = f"ValidatingAdmissionPolicy '{policy_name}' with binding '{bound.name}'"
    try:
        params = _params(ctx, policy, bound.obj, namespace)
        if compiled.error:
            raise _ParamError(compiled.error)
    except _ParamError as exc:
        if compiled.failure_policy != "Ignore":
            denials.append((f"{prefix} denied request: failed to configure binding: {exc}", ""))
        return
    annotations: dict[str, list[str]] = {}
    for param in params:
        if "params" in compiled.reads:
            activation.add_variable("params", param)
        result = compiled.evaluate(activation)
        for decision in result.decisions:
            for action in bound.actions:
                if action == "Deny":
                    denials.append((f"{prefix} denied request: {decision.message}", decision.reason))
                elif action == "Warn":
                    add_warning(f"Validation failed for {prefix}: {decision.message}")
                elif action == "Audit":
                    add_audit_annotation(
                        FAILURE_ANNOTATION, _failure_value(bound.obj, decision.index, decision.message)
                    )
        for annotation in result.annotations:
            values = annotations.setdefault(annotation.key, [])
            if annotation.value not in values:
                values.append(annotation.value)
    for key, values in annotations.items():
        add_audit_annotation(f"{policy_name}/{key}", ", ".join(values))


def _failure_value(binding: Mapping[str, Any], index: int, message: str) -> str:
    spec = binding.get("spec") or {}
    return json.dumps(
        [
            {
                "message": message,
                "policy": spec.get("policyName", ""),
                "binding": binding["metadata"]["name"],
                "expressionIndex": index,
                "validationActions": list(spec.get("validationActions") or ()),
            }
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    ).translate(_GO_HTML_ESCAPES)  # as Go's encoding/json
