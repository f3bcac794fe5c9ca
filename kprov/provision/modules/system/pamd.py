"""community.general.pamd: edit one rule (type, control, module path) of a PAM service file.

Three steps (modules.contract). ``probes`` reads ``path/name`` and the host's local time
(the module stamps a rewritten file with ``# Updated by Ansible - <time>`` as its second
line, and ``decide`` stays pure by taking that time from the host). ``decide`` reads the
file as the Ansible module does — comments, ``@include`` lines and blank lines are kept as
they are, every other line is a rule ``type control path [args]`` — applies ``state`` to the
rules matching type/control/module_path exactly (control compared as written, a bracketed
control re-spaced), validates every rule of the file, and, when something changed, plans the
file as the module writes it: each rule re-rendered (type padded to 11 columns), the stamp
line put in. ``act`` writes it (after a backup when asked).

Kept from the Ansible module, as its behaviour is the contract: inserting ``before`` a rule
puts the new rule right after the previous rule (the comment and blank lines between them
are dropped), ``after`` likewise before the next rule (and when no rule follows, the lines
after the matched rule give way to the new one); an existing neighbour with the new rule's
type/control/path counts as already there whatever its arguments. ``args_present`` adds
missing plain arguments, then missing ``key=value`` ones, and updates values that differ
(Ansible's order among several new arguments follows set iteration; here it is the order
given). There is no ``args_updated`` state in the module (choices are its six).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule
from kprov.provision.modules.files.fileops import backup_command, content_diff, parse_probe, probe_script

__all__ = ["MODULE", "PamdModule", "parse_arguments"]

TYPES = ("account", "-account", "auth", "-auth", "password", "-password", "session", "-session")
_STATES = ("absent", "after", "args_absent", "args_present", "before", "updated")
_SIMPLE_CONTROLS = ("required", "requisite", "sufficient", "optional", "include", "substack", "definitive")
_CONTROL_VALUES = frozenset(
    ["success", "open_err", "symbol_err", "service_err", "system_err", "buf_err", "perm_denied",
    "auth_err", "cred_insufficient", "authinfo_unavail", "user_unknown", "maxtries",
    "new_authtok_reqd", "acct_expired", "session_err", "cred_unavail", "cred_expired", "cred_err",
    "no_module_data", "conv_err", "authtok_err", "authtok_recover_err", "authtok_lock_busy",
    "authtok_disable_aging", "try_again", "ignore", "abort", "authtok_expired", "module_unknown",
    "bad_item", "conv_again", "incomplete", "default"])
_CONTROL_ACTIONS = ("ignore", "bad", "die", "ok", "done", "reset")
_RULE = re.compile(r"(?P<type>-?(?:auth|account|session|password))\s+(?P<control>\[.*\]|\S*)\s+"
                   r"(?P<path>\S*)\s*(?P<args>.*)\s*")
_ARG = re.compile(r"\[.*\]|\S+")
_STAMP = "# Updated by Ansible - "
_NOW = "date +%Y-%m-%dT%H:%M:%S.%6N"
_REQUIRED_IF = {"args_present": ("module_arguments",), "args_absent": ("module_arguments",),
                "before": ("new_control", "new_type", "new_module_path"),
                "after": ("new_control", "new_type", "new_module_path")}


def parse_arguments(value: Any) -> list[str]:
    """Module arguments (a string or a list of strings) as the module splits them: words,
    a bracketed ``[...]`` argument kept whole."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if len(items) == 1 and not items[0]:
        return []
    return [word for item in items for word in _ARG.findall(str(item))]


def _control_text(control: str) -> str:
    """A control as the module holds it: ``[a=b c=d]`` re-spaced, a simple word as is."""
    if control.startswith("["):
        inner = control.replace(" = ", "=").replace("[", "").replace("]", "")
        return "[" + " ".join(inner.split(" ")) + "]"
    return control


@dataclass
class Rule:
    type: str
    control: str
    path: str
    args: list[str] = field(default_factory=list)

    def matches(self, kind: str, control: str, path: str) -> bool:
        return (kind, control, path) == (self.type, self.control, self.path)

    def render(self) -> str:
        head = f"{self.type:<11}{self.control} {self.path}"
        return f"{head} {' '.join(self.args)}" if self.args else head

    def problem(self) -> str:
        """Why this rule is invalid (the module's messages), or ''."""
        line = self.render()
        if self.type not in TYPES:
            return f"Rule type, {self.type}, is not valid in rule {line}"
        if not self.control.startswith("["):
            if self.control not in _SIMPLE_CONTROLS:
                return f"Rule control, {self.control}, is not valid in rule {line}"
            return ""
        for item in self.control[1:-1].split(" "):
            value, sep, action = item.partition("=")
            if not sep or "=" in action:
                return f"Rule control, {item}, is not a value=action pair in rule {line}"
            if value not in _CONTROL_VALUES:
                return f"Rule control value, {value}, is not valid in rule {line}"
            if action not in _CONTROL_ACTIONS and not (action.isdigit() and int(action) >= 0):
                return f"Rule control action, {action}, is not valid in rule {line}"
        return ""


Line = Rule | str  # a rule, or a comment / @include / blank line kept as written


def parse_service(text: str) -> list[Line]:
    lines: list[Line] = []
    for raw in text.splitlines():
        stripped = raw.lstrip()
        if stripped.startswith(("#", "@include")) or not raw.strip():
            lines.append(raw)
            continue
        found = _RULE.search(raw)
        if found is None:
            raise ValueError(f"Unable to parse the PAM rule {raw!r}")
        lines.append(Rule(found["type"], _control_text(found["control"]), found["path"],
                          parse_arguments(found["args"])))
    return lines


def _invalid(lines: list[Line]) -> str:
    for line in lines:
        if isinstance(line, Rule):
            problem = line.problem()
            if problem:
                return problem
        elif line.strip() and not line.startswith(("#", "@include")):
            return f"Rule is not valid {line}"  # a comment or include indented: the module's check
    return ""


def _rule_indexes(lines: list[Line], key: tuple[str, str, str]) -> list[int]:
    return [i for i, line in enumerate(lines) if isinstance(line, Rule) and line.matches(*key)]


def _neighbour(lines: list[Line], start: int, step: int) -> int | None:
    """Index of the nearest line from ``start`` (walking ``step``) that is not a comment or blank."""
    i = start
    while 0 <= i < len(lines):
        line = lines[i]
        if isinstance(line, Rule) or not (line.lstrip().startswith("#") or not line.strip()):
            return i
        i += step
    return None


def _new_rule(params: Mapping[str, Any]) -> Rule:
    return Rule(params["new_type"], _control_text(params["new_control"]), params["new_module_path"],
                parse_arguments(params["module_arguments"]))


def _same(line: Line, rule: Rule) -> bool:
    return isinstance(line, Rule) and line.matches(rule.type, rule.control, rule.path)


def _insert_before(lines: list[Line], key: tuple[str, str, str], params: Mapping[str, Any]) -> int:
    changes = 0
    for target in [lines[i] for i in _rule_indexes(lines, key)]:
        at = next(i for i, line in enumerate(lines) if line is target)
        rule = _new_rule(params)
        prev = _neighbour(lines, at - 1, -1)
        if prev is None:
            lines.insert(at, rule)
        elif not _same(lines[prev], rule):
            lines[prev + 1:at] = [rule]
        else:
            continue
        changes += 1
    return changes


def _insert_after(lines: list[Line], key: tuple[str, str, str], params: Mapping[str, Any]) -> int:
    changes = 0
    for target in [lines[i] for i in _rule_indexes(lines, key)]:
        at = next((i for i, line in enumerate(lines) if line is target), None)
        if at is None:  # dropped by an earlier insertion
            continue
        rule = _new_rule(params)
        following = _neighbour(lines, at + 1, 1)
        if following is None:
            lines[at + 1:] = [rule]
        elif not _same(lines[following], rule):
            lines[at + 1:following] = [rule]
        else:
            continue
        changes += 1
    return changes


def _update(lines: list[Line], key: tuple[str, str, str], params: Mapping[str, Any]) -> int:
    new_args = None if params["module_arguments"] is None else parse_arguments(params["module_arguments"])
    changes = 0
    for i in _rule_indexes(lines, key):
        rule = lines[i]
        assert isinstance(rule, Rule)
        changed = False
        if params["new_type"] and rule.type != params["new_type"]:
            rule.type, changed = params["new_type"], True
        if params["new_control"] and rule.control != params["new_control"]:  # as given, like the module
            rule.control, changed = _control_text(params["new_control"]), True
        if params["new_module_path"] and rule.path != params["new_module_path"]:
            rule.path, changed = params["new_module_path"], True
        if new_args is not None and rule.args != new_args:
            rule.args, changed = new_args, True
        changes += changed
    return changes


def _split_args(args: list[str]) -> tuple[list[str], dict[str, str]]:
    simple: list[str] = []
    pairs: dict[str, str] = {}
    for arg in args:
        if arg.startswith("["):
            continue
        if "=" in arg:
            name, _, value = arg.partition("=")
            pairs[name] = value
        elif arg not in simple:
            simple.append(arg)
    return simple, pairs


def _args_present(lines: list[Line], key: tuple[str, str, str], wanted: list[str]) -> int:
    new_simple, new_pairs = _split_args(wanted)
    changes = 0
    for i in _rule_indexes(lines, key):
        rule = lines[i]
        assert isinstance(rule, Rule)
        simple, pairs = _split_args(rule.args)
        added = [a for a in new_simple if a not in simple]
        added += [f"{k}={v}" for k, v in new_pairs.items() if k not in pairs]
        rule.args = rule.args + added
        changed = bool(added)
        for name, value in new_pairs.items():
            if name in pairs and pairs[name] != value:
                rule.args[rule.args.index(f"{name}={pairs[name]}")] = f"{name}={value}"
                changed = True
        changes += changed
    return changes


def _args_absent(lines: list[Line], key: tuple[str, str, str], unwanted: list[str]) -> int:
    changes = 0
    for i in _rule_indexes(lines, key):
        rule = lines[i]
        assert isinstance(rule, Rule)
        if set(rule.args) & set(unwanted):
            rule.args = [a for a in rule.args if a not in unwanted]
            changes += 1
    return changes


def render_service(lines: list[Line], stamp_time: str) -> str:
    out = [line.render() if isinstance(line, Rule) else line for line in lines]
    mark = _STAMP + stamp_time
    if len(out) <= 1:
        out[0:0] = ["", mark]
    elif out[1].startswith("# Updated by Ansible"):
        out[1] = mark
    else:
        out.insert(1, mark)
    return "\n".join(out) + "\n"


class PamdModule(ThreeStepModule):
    name = "pamd"
    spec = {
        "name": Arg(required=True),
        "type": Arg(required=True, choices=TYPES),
        "control": Arg(required=True),
        "module_path": Arg(required=True),
        "new_type": Arg(choices=TYPES),
        "new_control": Arg(),
        "new_module_path": Arg(),
        "module_arguments": Arg("list"),
        "state": Arg(default="updated", choices=_STATES),
        "path": Arg(default="/etc/pam.d"),
        "backup": Arg("bool", default=False),
    }

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [probe_script(self._file(params), content=True, follow=True), _NOW]

    @staticmethod
    def _file(params: Mapping[str, Any]) -> str:
        return os.path.join(params["path"], params["name"])

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        state = params["state"]
        missing = [k for k in _REQUIRED_IF.get(state, ()) if params.get(k) is None]
        if missing:
            return Plan(failed=f"state is {state} but all of the following are missing: {', '.join(missing)}")
        probe, now = observed.values()
        path = self._file(params)
        found = parse_probe(path, probe.stdout)
        if not found.exists or found.kind != "file" or found.data is None:
            reason = "No such file or directory" if not found.exists else "Is a directory"
            return Plan(failed=f"Unable to open/read PAM module file {path} with error "
                               f"[Errno {2 if not found.exists else 21}] {reason}: '{path}'.")
        before = found.data.decode("utf-8", "surrogateescape")
        try:
            lines = parse_service(before)
        except ValueError as exc:
            return Plan(failed=str(exc))
        key = (params["type"], params["control"], params["module_path"])  # control compared as given
        wanted = parse_arguments(params["module_arguments"])
        if state == "args_present" and any(a.startswith("[") for a in wanted):
            return Plan(failed="Unable to process bracketed '[' complex arguments with 'args_present'. "
                               "Please use 'updated'.")
        if state == "updated":
            changes = _update(lines, key, params)
        elif state == "before":
            changes = _insert_before(lines, key, params)
        elif state == "after":
            changes = _insert_after(lines, key, params)
        elif state == "args_absent":
            changes = _args_absent(lines, key, wanted)
        elif state == "args_present":
            changes = _args_present(lines, key, wanted)
        else:
            kept = [line for line in lines if not (isinstance(line, Rule) and line.matches(*key))]
            changes, lines = len(lines) - len(kept), kept
        problem = _invalid(lines)
        if problem:
            return Plan(failed=problem)
        plan = Plan(changed=changes > 0, data={"change_count": changes, "backupdest": "",
                                               "_backup": params["backup"]})
        if changes:
            after = render_service(lines, now.stdout.strip())
            plan.files = {path: after}
            plan.diff = [content_diff(path, found.data, after.encode("utf-8", "surrogateescape"))]
        return plan

    def act(self, ctx: ModuleContext, plan: Plan) -> None:
        if plan.data.pop("_backup", False):
            (path,) = plan.files
            made = ctx.run(backup_command(path))
            if made.rc != 0:
                raise ModuleFailed(f"pamd: cannot back up {path}: {made.stderr.strip()}")
            plan.data["backupdest"] = made.stdout.strip().removeprefix("BACKUP:")
        super().act(ctx, plan)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        result = super().run(ctx, args)
        result.data.pop("_backup", None)
        return result


MODULE = PamdModule()
