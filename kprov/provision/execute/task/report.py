"""What a finished task leaves: its TaskResult (redacted for display) and the facts it set.

``task_result`` shapes the TaskResult the observers and the recap see: diffs of secrets and
credentials hidden, ``no_log`` honoured, ``ignore_errors``/``ignore_unreachable`` marked (the
first two as the host's run rendered them: execute.task.keywords).
``inject_facts`` puts a module's ``ansible_facts`` into the host's facts, as Ansible does,
as unsafe data (template_unsafe).
"""

from __future__ import annotations

from typing import Any

from kprov.provision.errors import ProvisionError
from kprov.provision.execute.context import HostState
from kprov.provision.execute.results import Status, TaskResult
from kprov.provision.execute.task.keywords import TaskFlags, render_flags
from kprov.provision.facts.names import fact_key
from kprov.provision.playbook.model import Task
from kprov.provision.redact import SECRET_DIFF, is_secret_file, redact_data, redact_text
from kprov.provision.template_unsafe import wrap_unsafe

__all__ = ["SKIPPED_BY_WHEN", "diff_entries", "inject_facts", "loop_results", "safe_diff", "task_result"]

# Ansible's registered result of a task whose ``when`` is false
SKIPPED_BY_WHEN = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}


def _no_scope() -> Any:
    raise ProvisionError("no host scope here: a templated keyword cannot be rendered")


def safe_diff(entry: dict[str, Any]) -> dict[str, Any]:
    """A diff entry as it may be shown: a module's content diff of key material already says
    only "content changed (secret)"; any other text is redacted (a template that renders a
    token into a config file, a state diff with a password)."""
    if entry.get("secret"):
        return entry
    before, after = entry.get("before"), entry.get("after")
    path = str(entry.get("after_header") or "")
    if isinstance(before, str) and isinstance(after, str) and (
        is_secret_file(path, after) or is_secret_file(path, before)
    ):
        return {**entry, "before": "", "after": SECRET_DIFF, "secret": True}
    return {**entry, "before": redact_data(before), "after": redact_data(after)}


def loop_results(registered: dict[str, Any]) -> list[dict[str, Any]]:
    """A looped task's per-item results; ``results`` may be another thing (``debug: var=results``
    registers the variable under its name, a mapping or a string)."""
    items = registered.get("results")
    return [r for r in items if isinstance(r, dict)] if isinstance(items, list) else []


def inject_facts(registered: dict[str, Any], host: HostState) -> None:
    """A module's ``ansible_facts`` join the host's facts, each also a variable of its own
    name (``services``, ``packages``), as Ansible injects them: unsafe data, never rendered
    (ansible-core's executor wraps a module's facts; set_fact's and include_vars' are not
    module facts and do not come here)."""
    facts = registered.get("ansible_facts")
    for item in loop_results(registered):
        if isinstance(item.get("ansible_facts"), dict):
            facts = {**(facts or {}), **item["ansible_facts"]}
    if not isinstance(facts, dict) or not facts:
        return
    for key, value in facts.items():
        value = wrap_unsafe(value)
        host.facts[fact_key(key)] = value
        host.injected_facts[key] = value
    host.facts_changes += 1


def diff_entries(registered: dict[str, Any]) -> list[dict[str, Any]]:
    """A result's diff entries: kprov's modules register a list, a module run by Ansible's
    protocol its own one dict (as ansible-core registers it)."""
    own = registered.get("diff") or []
    return [own] if isinstance(own, dict) else [d for d in own if isinstance(d, dict)]


def task_result(task: Task, status: Status, registered: dict[str, Any], seconds: float, *, host: str,
                play: str, title: str | None = None, flags: TaskFlags | None = None) -> TaskResult:
    """The task's result on ``host`` as it is reported (``title``: its name templated;
    ``flags``: ignore_errors and no_log as the host's run rendered them, else as written).
    A keyword that could not be validated is the message (it names no rendered value)."""
    diffs = diff_entries(registered)
    for item in loop_results(registered):
        diffs += diff_entries(item)
    if flags is None:
        flags = render_flags(task, _no_scope)
    no_log = flags.no_log
    ignored = ((status == "failed" and flags.ignore_errors)
               or (status == "unreachable" and flags.ignore_unreachable))
    public = {"censored": "output hidden: no_log is set"} if no_log else registered
    msg = "" if no_log and status != "failed" else redact_text(str(registered.get("msg") or ""))
    if no_log and status == "failed":
        msg = flags.error or "task failed (output hidden: no_log is set)"
    return TaskResult(
        host=host,
        task=title or task.title,
        action=task.action,
        status=status,
        msg=msg,
        diff=[] if no_log else [safe_diff(d) for d in diffs],
        ignored=ignored,
        duration_s=round(seconds, 4),
        origin=task.origin,
        play=play,
        result=public,
    )
