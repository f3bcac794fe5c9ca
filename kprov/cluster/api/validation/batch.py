"""Validation of batch/v1 Jobs and CronJobs, with kube-apiserver's field paths and wording.

Design: one entry point per kind, called from :mod:`.core` after the metadata checks.
The pod template goes through the pod spec validation with the restart policies a Job allows
(OnFailure, Never); the Job's own rules follow upstream's ValidateJob / ValidateJobUpdate:
non-negative counts, Indexed needs completions, podFailurePolicy needs restartPolicy Never and
well-formed rules, and the selector, completion mode, completions (unless Indexed and changed
together with parallelism) and podFailurePolicy never change; the template only while the
Job is suspended.
"""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.kinds.cron import schedule_error, zone_error
from kprov.cluster.api.selectors import SelectorError, label_selector_from_object
from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.pod import validate_pod_spec

__all__ = ["validate_cronjob", "validate_job", "validate_job_spec"]

_COMPLETION_MODES = ("NonIndexed", "Indexed")
_JOB_RESTART = ("OnFailure", "Never")
_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
_OPERATORS = ("In", "NotIn")
_MAX_INDEXED_COMPLETIONS = 100000
_REPLACEMENT = ("Failed", "TerminatingOrFailed")


def _non_negative(errors: Errors, spec: dict[str, Any], field: str, path: str) -> None:
    value = spec.get(field)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        errors.invalid(f"{path}.{field}", value, "must be greater than or equal to 0")


def _selector(errors: Errors, spec: dict[str, Any], path: str) -> None:
    selector = spec.get("selector")
    if selector is None:
        errors.required(f"{path}.selector")
        return
    try:
        parsed = label_selector_from_object(selector)
    except SelectorError as exc:
        errors.invalid(f"{path}.selector", selector, str(exc))
        return
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if not parsed.matches(labels):
        errors.invalid(
            f"{path}.template.metadata.labels", labels, "`selector` does not match template `labels`"
        )


def _pod_failure_policy(errors: Errors, spec: dict[str, Any], path: str) -> None:
    policy = spec.get("podFailurePolicy")
    if policy is None:
        return
    template_spec = (spec.get("template") or {}).get("spec") or {}
    if template_spec.get("restartPolicy") != "Never":
        errors.invalid(
            f"{path}.template.spec.restartPolicy",
            template_spec.get("restartPolicy"),
            'only "Never" is supported when podFailurePolicy is specified',
        )
    for index, rule in enumerate((policy or {}).get("rules") or []):
        rule_path = f"{path}.podFailurePolicy.rules[{index}]"
        action = rule.get("action")
        if action is None:
            errors.required(f"{rule_path}.action")
        elif action not in _ACTIONS:
            errors.not_supported(f"{rule_path}.action", action, _ACTIONS)
        elif action == "FailIndex" and spec.get("backoffLimitPerIndex") is None:
            errors.invalid(f"{rule_path}.action", action, "requires the backoffLimitPerIndex to be set")
        codes, conditions = rule.get("onExitCodes"), rule.get("onPodConditions")
        if codes is not None and conditions is not None:
            errors.invalid(rule_path, "", "specifying both OnExitCodes and OnPodConditions is not supported")
        elif codes is None and conditions is None:
            errors.invalid(rule_path, "", "specifying one of OnExitCodes and OnPodConditions is required")
        if codes is not None:
            _exit_codes(errors, codes, f"{rule_path}.onExitCodes")
        for c_index, pattern in enumerate(conditions or []):
            c_path = f"{rule_path}.onPodConditions[{c_index}]"
            if not pattern.get("type"):
                errors.required(f"{c_path}.type")
            status = pattern.get("status")
            if status not in ("True", "False", "Unknown"):
                errors.not_supported(f"{c_path}.status", status, ("True", "False", "Unknown"))


def _exit_codes(errors: Errors, codes: dict[str, Any], path: str) -> None:
    operator = codes.get("operator")
    if operator not in _OPERATORS:
        errors.not_supported(f"{path}.operator", operator, _OPERATORS)
    values = codes.get("values") or []
    if not values:
        errors.invalid(f"{path}.values", values, "at least one value is required")
    for index, value in enumerate(values):
        if operator == "In" and value == 0:
            errors.invalid(f"{path}.values[{index}]", value, "must not be 0 for the In operator")
        if index and isinstance(value, int) and isinstance(values[index - 1], int):
            if value == values[index - 1]:
                errors.duplicate(f"{path}.values[{index}]", value)
            elif value < values[index - 1]:
                errors.invalid(f"{path}.values[{index}]", value, "must be ordered")


def validate_job_spec(errors: Errors, spec: Any, path: str, *, check_selector: bool = True) -> None:
    """A JobSpec at ``path`` (``spec`` of a Job, ``spec.jobTemplate.spec`` of a CronJob)."""
    if not isinstance(spec, dict):
        errors.required(path)
        return
    if check_selector:
        _selector(errors, spec, path)
    for field in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ):
        _non_negative(errors, spec, field, path)
    mode = spec.get("completionMode")
    if mode is not None and mode not in _COMPLETION_MODES:
        errors.not_supported(f"{path}.completionMode", mode, _COMPLETION_MODES)
    if mode == "Indexed":
        completions = spec.get("completions")
        if completions is None:
            errors.required(f"{path}.completions", "when completion mode is Indexed")
        elif isinstance(completions, int) and completions > _MAX_INDEXED_COMPLETIONS:
            errors.invalid(
                f"{path}.completions",
                completions,
                f"must be less than or equal to {_MAX_INDEXED_COMPLETIONS} when completion mode is Indexed",
            )
    elif spec.get("backoffLimitPerIndex") is not None:
        errors.forbidden(f"{path}.backoffLimitPerIndex", "requires indexed completion mode")
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None and replacement not in _REPLACEMENT:
        errors.not_supported(f"{path}.podReplacementPolicy", replacement, _REPLACEMENT)
    elif replacement == "TerminatingOrFailed" and spec.get("podFailurePolicy") is not None:
        errors.not_supported(f"{path}.podReplacementPolicy", replacement, ("Failed",))
    template = spec.get("template") or {}
    validate_pod_spec(errors, template.get("spec"), f"{path}.template.spec", restart_policies=_JOB_RESTART)
    _pod_failure_policy(errors, spec, path)


def validate_job(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = obj.get("spec")
    validate_job_spec(errors, spec, "spec")
    if old is None or not isinstance(spec, dict):
        return
    old_spec = old.get("spec") or {}
    for field in ("selector", "completionMode", "podFailurePolicy", "backoffLimitPerIndex", "manualSelector"):
        if old_spec.get(field) != spec.get(field):
            errors.immutable(f"spec.{field}", spec.get(field))
    if old_spec.get("completions") != spec.get("completions"):
        elastic = (
            spec.get("completionMode") == "Indexed"
            and spec.get("completions") == spec.get("parallelism")
            and old_spec.get("completions") == old_spec.get("parallelism")
        )
        if not elastic:
            errors.immutable("spec.completions", spec.get("completions"))
    if old_spec.get("template") != spec.get("template") and not (
        old_spec.get("suspend") and (old.get("status") or {}).get("startTime") is None
    ):
        errors.immutable("spec.template", spec.get("template"))


_CONCURRENCY = ("Allow", "Forbid", "Replace")
_CRONJOB_NAME_MAX = 52  # the Job names it makes get an 11-character suffix


def validate_cronjob(errors: Errors, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    name = str((obj.get("metadata") or {}).get("name") or "")
    if len(name) > _CRONJOB_NAME_MAX:
        errors.invalid("metadata.name", name, f"must be no more than {_CRONJOB_NAME_MAX} characters")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        errors.required("spec")
        return
    schedule = spec.get("schedule")
    if not schedule:
        errors.required("spec.schedule")
    else:
        problem = schedule_error(str(schedule))
        if problem:
            errors.invalid("spec.schedule", schedule, problem)
    zone = spec.get("timeZone")
    if zone is not None:
        problem = zone_error(str(zone)) if zone else "unknown time zone "
        if problem:
            errors.invalid("spec.timeZone", zone, problem)
    policy = spec.get("concurrencyPolicy")
    if not policy:
        errors.required("spec.concurrencyPolicy")
    elif policy not in _CONCURRENCY:
        errors.not_supported("spec.concurrencyPolicy", policy, _CONCURRENCY)
    for field in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        _non_negative(errors, spec, field, "spec")
    template = spec.get("jobTemplate")
    if not isinstance(template, dict):
        errors.required("spec.jobTemplate")
        return
    job_spec = template.get("spec")
    validate_job_spec(errors, job_spec, "spec.jobTemplate.spec", check_selector=False)
