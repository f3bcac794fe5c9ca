"""Mutating- and ValidatingWebhookConfiguration validation (admissionregistration.k8s.io/v1).

What a webhook needs to be callable and what its CEL must compile to, refused at create and
update with upstream's field paths: each webhook's ``name`` (required, unique), ``sideEffects``
(None or NoneOnDryRun), ``admissionReviewVersions`` (v1 or v1beta1 among them), exactly one
of ``clientConfig.url`` and ``clientConfig.service``, ``failurePolicy``, ``timeoutSeconds``
(1 to 30), and its ``matchConditions`` (at most 64, names required and unique, expressions
compiling over ``object``, ``oldObject`` and ``request``: the admission policy checker).
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.validation.admission_policy import validate_match_conditions
from kprov.cluster.api.validation.field_errors import Errors

__all__ = ["validate_webhook_configuration"]

_SIDE_EFFECTS = ("None", "NoneOnDryRun")
_FAILURE_POLICIES = ("Fail", "Ignore")
_REVIEW_VERSIONS = ("v1", "v1beta1")
_CONDITION_VARIABLES = frozenset({"object", "oldObject", "request", "authorizer"})
_MAX_CONDITIONS = 64


def validate_webhook_configuration(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    names: set[str] = set()
    for index, hook in enumerate(obj.get("webhooks") or []):
        if isinstance(hook, dict):
            _webhook(errors, hook, f"webhooks[{index}]", names)


def _webhook(errors: Errors, hook: dict[str, Any], path: str, names: set[str]) -> None:
    name = hook.get("name")
    if not name:
        errors.required(f"{path}.name")
    elif name in names:
        errors.duplicate(f"{path}.name", name)
    else:
        names.add(str(name))
    effects = hook.get("sideEffects")
    if effects is None:
        errors.required(f"{path}.sideEffects", "must specify one of None, NoneOnDryRun")
    elif effects not in _SIDE_EFFECTS:
        errors.not_supported(f"{path}.sideEffects", effects, _SIDE_EFFECTS)
    versions = hook.get("admissionReviewVersions")
    if not versions:
        errors.required(f"{path}.admissionReviewVersions", "must specify one of v1, v1beta1")
    elif not any(v in _REVIEW_VERSIONS for v in versions):
        errors.invalid(f"{path}.admissionReviewVersions", versions,
                       "must include at least one of v1, v1beta1")
    failure = hook.get("failurePolicy")
    if failure is not None and failure not in _FAILURE_POLICIES:
        errors.not_supported(f"{path}.failurePolicy", failure, _FAILURE_POLICIES)
    timeout = hook.get("timeoutSeconds")
    if isinstance(timeout, int) and not 1 <= timeout <= 30:
        detail = "the timeout value must be between 1 and 30 seconds"
        errors.invalid(f"{path}.timeoutSeconds", timeout, detail)
    client = hook.get("clientConfig") or {}
    if bool(client.get("url")) == bool(client.get("service")):
        errors.required(f"{path}.clientConfig", "exactly one of url or service is required")
    _conditions(errors, hook.get("matchConditions") or [], f"{path}.matchConditions")


def _conditions(errors: Errors, conditions: list[Any], path: str) -> None:
    if len(conditions) > _MAX_CONDITIONS:
        errors.invalid(path, len(conditions), f"must have {_MAX_CONDITIONS} or fewer items")
    validate_match_conditions(errors, conditions, path, _CONDITION_VARIABLES)
