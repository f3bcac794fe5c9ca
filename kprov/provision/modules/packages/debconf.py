"""ansible.builtin.debconf: one answer in the debconf database (or, without a question, a read).

Three steps (modules.contract). The probe is ``debconf-show PACKAGE`` (``[*] question:
value`` lines, passwords shown as omitted), read as the module reads it. A question absent
from that list always changes; a present one changes when its value differs: booleans
compared lowercased, a multiselect given as a list compared sorted with the comma-separated
answer, and a password against what ``debconf-get-selections`` holds. That second probe
(declared for ``vtype: password`` only) never brings the password back: the host hashes the
module's finding (sha256 of ``VAL:<value>``, nothing when no line is found) and the decision
compares hashes. The answer is set with ``debconf-set-selections [-u]``, the line on its
standard input, never in a command line. Unlike the module, a password is shown as
``********`` in ``current`` and the diff (the module leaves that to the task's ``no_log``).
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule

__all__ = ["MODULE", "DebconfModule", "password_probe", "selections"]

_VTYPES = ("boolean", "error", "multiselect", "note", "password", "seen", "select", "string", "text", "title")
MASK = "********"
_NO_TOOL = "!missing"
_EMPTY_SHA = hashlib.sha256(b"").hexdigest()


@dataclass
class DebconfPlan(Plan):
    """A plan whose answer goes to ``debconf-set-selections`` on standard input."""

    selection: str = ""


def selections(debconf_show: str) -> dict[str, str]:
    """``debconf-show``'s lines as question -> value (the ``*`` of seen questions dropped)."""
    found: dict[str, str] = {}
    for line in debconf_show.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            found[key.strip("*").strip()] = value.strip()
    return found


def password_probe(package: str, question: str) -> str:
    """The hash of the module's finding in ``debconf-get-selections``: the first of the
    package's lines with three fields or fewer gives an empty password, else the first line
    of this question and type gives its value; no line, no output."""
    program = (
        "index($0, p) == 1 { if (NF <= 3) { print \"VAL:\"; exit } "
        "if ($2 == q && $3 == \"password\") { print \"VAL:\" $4; exit } }"
    )
    return (
        f"if command -v debconf-get-selections >/dev/null; then debconf-get-selections | "
        f"awk -F '\\t' -v p={shlex.quote(package)} -v q={shlex.quote(question)} {shlex.quote(program)}"
        f" | sha256sum; else echo {_NO_TOOL}; fi"
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) else str(value)


class DebconfModule(ThreeStepModule):
    name = "debconf"
    spec = {
        "name": Arg(required=True, aliases=("pkg",)),
        "question": Arg(aliases=("selection", "setting")),
        "vtype": Arg(choices=_VTYPES),
        "value": Arg("raw", aliases=("answer",)),
        "unseen": Arg("bool", default=False),
    }

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        p = parse_args(self.name, self.spec, args)
        together = ("question", "vtype", "value")
        given = [p[name] is not None for name in together]
        if any(given) and not all(given):
            raise ModuleFailed(f"parameters are required together: {', '.join(together)}")
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        probes = [f"debconf-show {shlex.quote(params['name'])}"]
        if params["question"] is not None and params["vtype"] == "password":
            probes.append(password_probe(params["name"], params["question"]))
        return probes

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        shown, *secret = observed.values()
        if shown.rc != 0:
            return Plan(failed=shown.stderr)
        prev = selections(shown.stdout)
        question, vtype, value = params["question"], params["vtype"], params["value"]
        if question is None:
            return Plan(data={"current": prev, "msg": ""})
        if vtype == "boolean":
            value = _text(value).lower()
        elif not isinstance(value, list):
            value = _text(value)
        changed = question not in prev
        if not changed:
            existing: Any = prev[question]
            if vtype == "boolean":
                changed = value != existing.lower()
            elif vtype == "password":
                changed = self._password_differs(params, secret[0], str(value))
            elif vtype == "multiselect" and isinstance(value, list):
                value = sorted(_text(v) for v in value)
                changed = value != sorted(part.strip() for part in existing.split(","))
            else:
                changed = value != existing
        if not changed:
            return Plan(data={"current": prev, "msg": ""})
        answer = ", ".join(value) if isinstance(value, list) else value
        shown_value: Any = MASK if vtype == "password" else value
        # as the module: the previous answer alone, or (a question not asked yet) every
        # answer with this one empty
        before = {question: prev[question]} if question in prev else {**prev, question: ""}
        return DebconfPlan(
            changed=True,
            commands=["debconf-set-selections -u" if params["unseen"] else "debconf-set-selections"],
            selection=" ".join([params["name"], question, vtype, answer]) + "\n",
            data={"current": {question: shown_value}, "previous": before, "msg": ""},
            diff=[{"before": before, "after": {**before, question: shown_value}}],
        )

    def _password_differs(self, params: Mapping[str, Any], probe: CommandResult, value: str) -> bool:
        digest = probe.stdout.split(" ")[0].strip()
        if digest == _NO_TOOL:
            raise ModuleFailed('Failed to find required executable "debconf-get-selections"')
        if digest == _EMPTY_SHA:  # no line found: the module compares with None
            return True
        return digest != hashlib.sha256(f"VAL:{value}\n".encode()).hexdigest()

    def act(self, ctx: ModuleContext, plan: Plan) -> None:
        assert isinstance(plan, DebconfPlan)
        (command,) = plan.commands
        done = ctx.run(command, stdin=plan.selection.encode())
        if done.rc != 0:
            raise ModuleFailed(done.stderr)
        plan.data["msg"] = done.stdout


MODULE = DebconfModule()
