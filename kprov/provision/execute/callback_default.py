"""ansible-playbook's console output: the lines its ``default`` stdout callback prints.

ansible-core's own integration scripts (runme.sh) grep what ansible-playbook prints: banners
(``PLAY [..]``, ``TASK [role : name]``, ``RUNNING HANDLER [..]``, ``PLAY RECAP``), result lines
(``ok: [host]``, ``changed:``, ``skipping:``, ``fatal: [host]: FAILED! => {..}``, ``...ignoring``,
a loop's ``(item=..)`` lines), ``-vv``'s ``PLAYBOOK: file`` banner and ``N plays in file``, and
the recap's ``host : ok=N changed=N ...`` rows. ``kprov apply --output ansible`` prints those
instead of kprov's live view and recap table, so a script written against ansible-playbook
reads kprov's run the same way.

Design: ``AnsibleConsole`` is a RunObserver (thread-safe: host threads report through one
lock) that turns each TaskResult into the callback's lines as it arrives; the renderers are
pure functions over results (unit-tested line by line). What is kept from the callback: a task
banner printed once per task before its first host result (as the linear strategy's
``_last_task_banner``), the banner's width (79 columns: Display's width off a terminal), the
result dump rules of ``CallbackBase._dump_results`` (internal keys, invocation and diff off
below -vvv; ``debug`` and ``-vvv`` indented by 4; sorted keys, non-ASCII kept), debug's own
cleaning (``_clean_results``), and the recap's columns. Colours are not printed.
Secrets: results are redacted (kprov.provision.redact) before they become text.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kprov.provision.execute.results import HostStats, RunReport, TaskResult
from kprov.provision.redact import redact_data, redact_text

__all__ = ["AnsibleConsole", "banner", "dump_result", "recap_lines", "result_lines"]

COLUMNS = 79  # ansible's Display: max(79, terminal width - 1); 79 when not on a terminal
_DEBUG_ALLOWED = frozenset({"msg", "exception", "warnings", "deprecations"})
_DEBUG_HIDDEN = ("changed", "failed", "skipped", "invocation", "skip_reason")
_DEBUG_ACTIONS = frozenset({"debug", "ansible.builtin.debug", "ansible.legacy.debug"})
_ASSERT_ACTIONS = frozenset({"assert", "ansible.builtin.assert", "ansible.legacy.assert"})
_INCLUDES = frozenset({"include_tasks", "include_role", "ansible.builtin.include_tasks",
                       "ansible.builtin.include_role"})


def banner(msg: str) -> list[str]:
    """Display.banner: a blank line, then the message and stars to the width (at least 3)."""
    msg = msg.strip()
    return ["", f"{msg} {'*' * max(3, COLUMNS - len(msg))}"]


def _is_debug(action: str) -> bool:
    return action in _DEBUG_ACTIONS


def _cleaned(result: Mapping[str, Any], action: str) -> dict[str, Any]:
    """TaskResult.clean_copy (``failed``/``skipped`` are the event's, not shown), then
    CallbackBase._clean_results: a debug result shows its msg alone (or its var)."""
    data = {k: v for k, v in result.items() if k not in ("failed", "skipped")}
    if _is_debug(action):
        if "msg" in data:
            data = {k: v for k, v in data.items() if k in _DEBUG_ALLOWED or k.startswith("_")}
        else:
            for key in _DEBUG_HIDDEN:
                data.pop(key, None)
    return data


def dump_result(result: Mapping[str, Any], verbosity: int, indent: int | None = None) -> str:
    """CallbackBase._dump_results with the default result_format (json)."""
    data = {k: v for k, v in result.items() if not k.startswith("_ansible_")}
    if result.get("_ansible_verbose_always") or verbosity > 2:
        indent = indent or 4
    if verbosity < 3:
        data.pop("invocation", None)
        data.pop("diff", None)
    data.pop("exception", None)
    return json.dumps(redact_data(data), indent=indent, ensure_ascii=False, sort_keys=True,
                      default=lambda v: redact_text(str(v)))


def _with_debug_flag(result: TaskResult) -> dict[str, Any]:
    data = dict(result.result)
    if _is_debug(result.action) and result.status != "failed":  # the action's own flag
        data["_ansible_verbose_always"] = True
    if result.action in _ASSERT_ACTIONS and data.get("msg"):  # assert's unless ``quiet`` (no msg here)
        data["_ansible_verbose_always"] = True
    if result.status in ("failed", "unreachable") and "msg" not in data and result.msg:
        data["msg"] = result.msg
    if result.status == "failed":
        data.setdefault("changed", False)
    return data


def _verbose(data: Mapping[str, Any], verbosity: int) -> bool:
    return (verbosity > 0 or bool(data.get("_ansible_verbose_always"))) \
        and "_ansible_verbose_override" not in data


def _item_label(item: Mapping[str, Any]) -> str:
    loop_var = str(item.get("ansible_loop_var", "item"))
    label = item.get("_ansible_item_label", item.get(loop_var))
    return str(label)


def _item_lines(result: TaskResult, verbosity: int) -> list[str]:
    """A loop's per-item lines (v2_runner_item_on_ok/failed/skipped)."""
    lines: list[str] = []
    for raw in result.result.get("results") or []:
        if not isinstance(raw, dict):
            continue
        data = {**raw, **({"_ansible_verbose_always": True} if _is_debug(result.action) else {})}
        label = _item_label(raw)
        cleaned = _cleaned(data, result.action)
        if raw.get("failed"):
            lines.append(f"failed: [{result.host}] (item={label}) => {dump_result(cleaned, verbosity)}")
            continue
        if raw.get("skipped"):
            line = f"skipping: [{result.host}] => (item={label}) "
        else:
            line = f"{'changed' if raw.get('changed') else 'ok'}: [{result.host}] => (item={label})"
        if _verbose(data, verbosity):
            line += f" => {dump_result(cleaned, verbosity)}"
        lines.append(line)
    return lines


def result_lines(result: TaskResult, verbosity: int) -> list[str]:
    """The lines of one host's result of a task (after its banner)."""
    data = _with_debug_flag(result)
    looped = isinstance(data.get("results"), list) and "ansible_loop_var" in str(data.get("results"))
    lines = _item_lines(result, verbosity) if looped else []
    if result.action in _INCLUDES and result.status == "ok":
        return lines
    if result.status in ("failed", "unreachable") and not (result.status == "unreachable" and result.ignored):
        if not looped:
            kind = "UNREACHABLE" if result.status == "unreachable" else "FAILED"
            dump = dump_result(_cleaned(data, result.action), verbosity)
            lines.append(f"fatal: [{result.host}]: {kind}! => {dump}")
        if result.ignored:
            lines.append("...ignoring")
        return lines
    if result.status == "skipped":
        line = f"skipping: [{result.host}]"
        if _verbose(data, verbosity):
            line += f" => {dump_result(_cleaned(data, result.action), verbosity)}"
        return [*lines, line]
    if looped:
        return lines
    line = f"{'changed' if result.status == 'changed' else 'ok'}: [{result.host}]"
    if _verbose(data, verbosity):
        line += f" => {dump_result(_cleaned(data, result.action), verbosity)}"
    return [line]


def _stat_line(host: str, stats: HostStats) -> str:
    counts = (("ok", stats.ok), ("changed", stats.changed), ("unreachable", stats.unreachable),
              ("failed", stats.failed), ("skipped", stats.skipped), ("rescued", stats.rescued),
              ("ignored", stats.ignored))
    return f"{host:<26} : " + " ".join(f"{name}={value!s:<4}" for name, value in counts)


def recap_lines(report: RunReport) -> list[str]:
    """PLAY RECAP: one row per host (sorted, as the callback sorts them), then a blank line."""
    rows = [_stat_line(h, report.stats[h]) for h in sorted(report.hosts) if h in report.stats]
    return [*banner("PLAY RECAP"), *rows, ""]


_LOCATED = re.compile(r"(?P<file>[^\s:][^:]*):(?P<line>\d+)(?::\d+)?: (?P<msg>.+)", re.S)


def load_error_lines(message: str) -> list[str]:
    """A playbook that cannot be loaded, as ansible-playbook reports it on stderr:
    ``ERROR! <message>``, then where it is (kprov's ``file:line: `` prefix moved behind) and,
    when the file can be read, the offending line after the one before it with an arrow at
    its column, in AnsibleError's words (``_get_extended_error``). kprov's origins name the
    line of a mapping: its column is where that line's first key starts."""
    located = _LOCATED.fullmatch(message)
    if located is None:
        return [f"ERROR! {redact_text(message)}"]
    text = redact_text(located["msg"])
    where = f"The error appears to be in '{located['file']}': line {located['line']}"
    try:
        lines = Path(located["file"]).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return [f"ERROR! {text}", "", where]
    index = min(int(located["line"]), len(lines)) - 1
    while index > 0 and not lines[index].strip():  # as ansible-core: back to a line with text
        index -= 1
    if index < 0:
        return [f"ERROR! {text}", "", where]
    target = lines[index]
    column = len(target) - len(target.lstrip(" -")) + 1
    previous = lines[index - 1].rstrip() if index > 0 else ""
    return [f"ERROR! {text}", "", f"{where}, column {column}, but may",
            "be elsewhere in the file depending on the exact syntax problem.", "",
            "The offending line appears to be:", "", previous, target.rstrip(), " " * (column - 1) + "^ here"]


def task_kind(result: TaskResult) -> str:
    """The banner's prefix: a handler's result is RUNNING HANDLER, others TASK."""
    return "RUNNING HANDLER" if result.handler else "TASK"


class AnsibleConsole:
    """A RunObserver printing the default callback's lines through ``write`` (one line each)."""

    def __init__(self, write: Callable[[str], None], verbosity: int) -> None:
        self.write, self.verbosity = write, verbosity
        self.lock = threading.Lock()
        self.last_banner: tuple[str, str, str, str] | None = None

    def _emit(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def playbook(self, path: str, plays: int) -> None:
        shown = os.path.relpath(path) if os.path.isabs(path) else path
        with self.lock:
            if self.verbosity > 1:
                self._emit([*banner(f"PLAYBOOK: {os.path.basename(path)}"), f"{plays} plays in {shown}"])

    def phase(self, title: str) -> None:
        return None

    def play(self, name: str, hosts: list[str]) -> None:
        with self.lock:
            self.last_banner = None
            self._emit(banner(f"PLAY [{name}]" if name else "PLAY"))
            if not hosts:
                self._emit(["skipping: no hosts matched"])

    def task_start(self, host: str, task: str) -> None:
        return None

    def warning(self, msg: str) -> None:
        """The engine's warnings, as Display.warning words them."""
        with self.lock:
            self._emit([f"[WARNING]: {redact_text(msg)}"])

    def task_done(self, result: TaskResult) -> None:
        if result.action in ("meta", "ansible.builtin.meta"):  # no banner: the strategy runs them
            if self.verbosity > 1 and result.msg:
                with self.lock:
                    self._emit([f"META: {redact_text(result.msg)}"])
            return
        with self.lock:
            self._banner_once(result)
            self._emit(result_lines(result, self.verbosity))

    def _banner_once(self, result: TaskResult) -> None:
        """The task's banner (and its path at -vv) before its first result only; hold the lock."""
        key = (task_kind(result), result.play, result.task, result.origin)  # one task's results
        if key != self.last_banner:
            self._emit(banner(f"{key[0]} [{result.task}]"))
            if self.verbosity > 1 and result.origin:
                self._emit([f"task path: {result.origin}"])
            self.last_banner = key

    def meta_done(self, result: TaskResult) -> None:
        """A meta task (or handler): its banner, ``META: <msg>`` at -vv, and a skip's line
        (``_execute_meta`` sends the task start and, skipped, v2_runner_on_skipped)."""
        with self.lock:
            self._banner_once(result)
            if self.verbosity > 1:
                self._emit([f"META: {redact_text(result.msg)}"])
            if result.status == "skipped":
                line = f"skipping: [{result.host}]"
                if self.verbosity > 0:
                    line += f" => {dump_result(result.result, self.verbosity)}"
                self._emit([line])

    def recap(self, report: RunReport) -> None:
        with self.lock:
            if not report.raised:  # an error ansible-core raises ends its run before the recap
                self._emit(recap_lines(report))
            for error in report.errors:  # a located one as a load error (``ERROR! <msg>``, where)
                self._emit(load_error_lines(error))
