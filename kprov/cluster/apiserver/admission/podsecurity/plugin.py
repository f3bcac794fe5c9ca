"""The PodSecurity decisions (upstream's ``admission.Admission``), free of the server.

Given the namespace's labels, the configuration and the object, each method returns a
:class:`Decision`: refused (with the Status error upstream returns), the warnings to send
and the audit annotations to record.

- Pods (create, and updates that change an image or add an ephemeral container;
  ``exec``, ``status``, ``binding`` and the other plain subresources are never checked):
  enforce refuses, audit annotates, warn warns.
- Pod controllers (their pod templates; no subresources): never refused; audit and warn.
- Namespaces: bad ``pod-security.kubernetes.io`` labels are refused (422); tightening the
  enforce level warns with the existing pods that would violate it, grouped by reason
  (``name (and N other pods): reasons``), at most 3000 pods, one per controller first.
- Exemptions: namespaces and usernames skip everything, runtime classes skip the evaluation.

A namespace's policy is read from its labels once per distinct set of Pod Security labels
(:meth:`PodSecurity.policy` keeps the parsed policies on the instance, bounded): every pod
create read them again, though a namespace's pods all share them (docs/decisions/0058).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.errors import ApiError, Cause
from kprov.cluster.apiserver.admission.podsecurity.configuration import PodSecurityConfig
from kprov.cluster.apiserver.admission.podsecurity.levels import (
    LABEL_PREFIX,
    PRIVILEGED,
    LabelError,
    LevelVersion,
    Policy,
    compare_levels,
    policy_to_evaluate,
)
from kprov.cluster.apiserver.admission.podsecurity.metrics import PodSecurityMetrics
from kprov.cluster.apiserver.admission.podsecurity.registry import Evaluator, Result
from kprov.cluster.apiserver.request.status import StatusError

__all__ = [
    "IGNORED_POD_SUBRESOURCES",
    "MAX_PODS_TO_CHECK",
    "Decision",
    "PodSecurity",
    "is_significant_pod_update",
]

IGNORED_POD_SUBRESOURCES = frozenset(
    {"exec", "attach", "binding", "eviction", "log", "portforward", "proxy", "status"}
)
MAX_PODS_TO_CHECK = 3000
_POLICY_MEMO_SIZE = 1024  # distinct Pod Security label sets kept parsed (then all dropped)
_PRIVILEGED_TEXT = str(LevelVersion(PRIVILEGED))

Obj = Mapping[str, Any]


@dataclass
class Decision:
    denial: ApiError | None = None
    warnings: list[str] = field(default_factory=list)
    audit_annotations: dict[str, str] = field(default_factory=dict)
    # for the metrics: (allow | deny, level:version, mode) of each counted evaluation
    evaluations: list[tuple[str, LevelVersion, str]] = field(default_factory=list)
    exempt: bool = False
    policy_error: bool = False  # bad namespace labels (evaluated anyway, with the fallbacks)


def _exempt(reason: str) -> Decision:
    return Decision(audit_annotations={"exempt": reason}, exempt=True)


def _container_images(spec: Obj, field_name: str) -> list[Any]:
    return [c.get("image") for c in spec.get(field_name) or ()]


def is_significant_pod_update(new: Obj, old: Obj) -> bool:
    """An update that can change what the checks see: a container count or image changed,
    or an ephemeral container was added or changed its image (upstream checks only these;
    the other fields of a running pod's spec cannot change)."""
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    for name in ("containers", "initContainers"):
        if _container_images(new_spec, name) != _container_images(old_spec, name):
            return True
    old_ephemeral = {c.get("name"): c.get("image") for c in old_spec.get("ephemeralContainers") or ()}
    for container in new_spec.get("ephemeralContainers") or ():
        if container.get("name") not in old_ephemeral or old_ephemeral[
            container.get("name")
        ] != container.get("image"):
            return True
    return False


class PodSecurity:
    def __init__(self, config: PodSecurityConfig, evaluator: Evaluator | None = None) -> None:
        self.config = config
        self.evaluator = evaluator or Evaluator()
        self.metrics = PodSecurityMetrics()
        # the Pod Security labels ((name, value), in the namespace's order) -> the policy and
        # its label errors: policy_to_evaluate reads no other label
        self._policies: dict[tuple[tuple[str, str], ...], tuple[Policy, tuple[LabelError, ...]]] = {}

    # -- pods and pod controllers --------------------------------------------------------------
    def exemption(self, namespace: str, username: str) -> Decision | None:
        if namespace and namespace in self.config.exempt_namespaces:
            return _exempt("namespace")
        if username and username in self.config.exempt_usernames:
            return _exempt("user")
        return None

    def policy(self, labels: Mapping[str, str] | None) -> tuple[Policy, list[Any]]:
        key = tuple(item for item in labels.items() if item[0].startswith(LABEL_PREFIX)) if labels else ()
        found = self._policies.get(key)
        if found is None:
            if len(self._policies) >= _POLICY_MEMO_SIZE:
                self._policies.clear()
            policy, errors = policy_to_evaluate(dict(key), self.config.defaults)
            found = self._policies[key] = (policy, tuple(errors))
        return found[0], list(found[1])

    def evaluate(
        self,
        labels: Mapping[str, str] | None,
        resource: str,
        name: str,
        meta: Obj,
        spec: Obj,
        enforce: bool,
    ) -> Decision:
        """A pod (``enforce``) or a controller's template against the namespace's policy."""
        policy, errors = self.policy(labels)
        if not errors and (
            policy.fully_privileged() if enforce else policy.warn.level == policy.audit.level == PRIVILEGED
        ):
            if enforce:
                return Decision(
                    audit_annotations={"enforce-policy": _PRIVILEGED_TEXT},
                    evaluations=[("allow", policy.enforce, "enforce")],
                )
            return Decision()
        runtime_class = spec.get("runtimeClassName")
        if runtime_class and runtime_class in self.config.exempt_runtime_classes:
            return _exempt("runtimeClass")
        decision = Decision(policy_error=bool(errors))
        if errors:
            decision.audit_annotations["error"] = "Failed to parse policy: " + _aggregate(errors)
        results: dict[LevelVersion, Result] = {}

        def result_for(level_version: LevelVersion) -> Result:
            found = results.get(level_version)
            if found is None:
                found = results[level_version] = self.evaluator.evaluate(level_version, meta, spec)
            return found

        if enforce:
            decision.audit_annotations["enforce-policy"] = str(policy.enforce)
            enforced = result_for(policy.enforce)
            decision.evaluations.append(("allow" if enforced.allowed else "deny", policy.enforce, "enforce"))
            if not enforced.allowed:
                decision.denial = StatusError(
                    f'{resource} "{name}" is forbidden: violates PodSecurity "{policy.enforce}": '
                    f"{enforced.details()}",
                    403,
                    "Forbidden",
                    _forbidden_details(resource, name),
                )
        audited = result_for(policy.audit)
        if not audited.allowed:
            decision.evaluations.append(("deny", policy.audit, "audit"))
            decision.audit_annotations["audit-violations"] = (
                f'would violate PodSecurity "{policy.audit}": {audited.details()}'
            )
        if decision.denial is None:
            warned = result_for(policy.warn)
            if not warned.allowed:
                decision.evaluations.append(("deny", policy.warn, "warn"))
                decision.warnings.append(f'would violate PodSecurity "{policy.warn}": {warned.details()}')
        return decision

    # -- namespaces ----------------------------------------------------------------------------
    def validate_namespace(
        self,
        name: str,
        labels: Mapping[str, str] | None,
        old_labels: Mapping[str, str] | None,
        pods: Iterable[Obj] | None,
    ) -> Decision:
        """A namespace create (``old_labels`` None) or update; ``pods``: the namespace's pods
        (only read when the enforce level tightens)."""
        policy, errors = self.policy(labels)
        if old_labels is None:
            if errors:
                return Decision(denial=_invalid_namespace(name, errors))
            return self._exempt_namespace_warning(name, policy, labels or {})
        old_policy, old_errors = self.policy(old_labels)
        if errors and (not old_errors or errors != old_errors):
            return Decision(denial=_invalid_namespace(name, errors))
        if policy.enforce == old_policy.enforce or policy.enforce.level == PRIVILEGED:
            return Decision()
        if (
            policy.enforce.version == old_policy.enforce.version
            and compare_levels(policy.enforce.level, old_policy.enforce.level) < 1
        ):
            return Decision()
        if name in self.config.exempt_namespaces:
            return self._exempt_namespace_warning(name, policy, labels or {})
        return Decision(warnings=self.evaluate_pods(name, policy.enforce, pods or ()))

    def _exempt_namespace_warning(self, name: str, policy: Policy, labels: Mapping[str, str]) -> Decision:
        if name not in self.config.exempt_namespaces:
            return Decision()
        if policy.fully_privileged() or policy.equivalent(self.config.defaults):
            return Decision()
        parts = []
        for mode, level_version in (
            ("enforce", policy.enforce),
            ("audit", policy.audit),
            ("warn", policy.warn),
        ):
            labelled = LABEL_PREFIX + mode in labels or LABEL_PREFIX + mode + "-version" in labels
            if level_version.level != PRIVILEGED and labelled:
                parts.append(f"{mode}={level_version}")
        return Decision(
            warnings=[
                f'namespace "{name}" is exempt from Pod Security, and the policy ({", ".join(parts)}) '
                "will be ignored"
            ]
        )

    def evaluate_pods(self, namespace: str, enforce: LevelVersion, pods: Iterable[Obj]) -> list[str]:
        """Upstream's warnings for existing pods that violate a new enforce level."""
        chosen = self._prioritized(pods)
        total = len(chosen)
        chosen = chosen[:MAX_PODS_TO_CHECK]
        counts: dict[str, tuple[str, int]] = {}  # reasons -> (smallest pod name, pods)
        for pod in chosen:
            result = self.evaluator.evaluate(enforce, pod.get("metadata") or {}, pod.get("spec") or {})
            if result.allowed:
                continue
            reasons = result.reasons()
            pod_name = str((pod.get("metadata") or {}).get("name", ""))
            first, count = counts.get(reasons, (pod_name, 0))
            counts[reasons] = (min(first, pod_name), count + 1)
        warnings = []
        if len(chosen) < total:
            warnings.append(
                f"new PodSecurity enforce level only checked against the first {len(chosen)} of {total} "
                "existing pods"
            )
        if counts:
            warnings.append(
                f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce level '
                f'"{enforce}"'
            )
        decorated = []
        for reasons, (pod_name, count) in counts.items():
            if count == 1:
                decorated.append(f"{pod_name}: {reasons}")
            elif count == 2:
                decorated.append(f"{pod_name} (and 1 other pod): {reasons}")
            else:
                decorated.append(f"{pod_name} (and {count - 1} other pods): {reasons}")
        return warnings + sorted(decorated)

    def _prioritized(self, pods: Iterable[Obj]) -> list[Obj]:
        """One pod per controller first, then the rest; pods of exempt runtime classes left out."""
        first, later, seen = [], [], set()
        for pod in pods:
            if (pod.get("spec") or {}).get("runtimeClassName") in self.config.exempt_runtime_classes:
                continue
            owner = next(
                (
                    r.get("uid")
                    for r in (pod.get("metadata") or {}).get("ownerReferences") or ()
                    if r.get("controller")
                ),
                None,
            )
            if owner is not None and owner in seen:
                later.append(pod)
                continue
            if owner is not None:
                seen.add(owner)
            first.append(pod)
        return first + later


def _forbidden_details(resource: str, name: str) -> dict[str, Any]:
    group, _, plain = resource.rpartition(".") if "." in resource else ("", "", resource)
    details: dict[str, Any] = {"name": name, "kind": plain}
    if group:
        details = {"name": name, "group": group, "kind": plain}
    return details


def _aggregate(errors: list[Any]) -> str:
    texts = [str(e) for e in errors]
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def _invalid_namespace(name: str, errors: list[Any]) -> ApiError:
    error = StatusError(
        f'Namespace "{name}" is invalid: {_aggregate(errors)}',
        422,
        "Invalid",
        {"name": name, "kind": "Namespace"},
    )
    error.causes = [Cause(e.field, "FieldValueInvalid", e.message) for e in errors]
    return error
