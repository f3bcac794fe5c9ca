"""community.general.ufw: the firewall's state, default policies, logging and rules via ``ufw``.

Run-style (the module judges its change after acting, as the collection's does). One declared
probe reads where ``ufw`` and ``grep`` are, ``ufw status verbose``, the rule tuples of the
user.rules files (``### tuple`` lines) and, for a rule, ``ufw --version`` (a comment is only
given to ufw 0.35 and later). The module then sends its ufw commands in the collection's
order (state, default, rule, logging), each built as the collection builds it, and reports a
change when state was reloaded/reset or ``ufw status verbose`` or the tuples differ after.
In check mode it acts on nothing: state, default and logging are judged from the status
read first, a rule from ``ufw --dry-run``'s tuples compared with the ones read (IPv4 or IPv6
lines only when an address of that family is given). ``commands`` returns what it ran.

In the module contract's steps: ``decide`` (pure) parses the probe and gives a frozen
``UfwPlan`` (the steps, and the change judged before acting); ``act`` sends the steps and,
as the collection, judges the rest of the change from what ufw answers: a rule's insert
position needs ``ufw status numbered``, check mode reads ``--dry-run``, and a real run
compares the status and tuples after acting. Those reads depend on what was sent, so they
are in ``act``, which also runs in check mode (sending only reads).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, read_declared

__all__ = ["MODULE", "UfwModule", "UfwPlan", "rule_words"]

_COMMAND_KEYS = ("state", "default", "rule", "logging")
_STATES = {"enabled": "enable", "disabled": "disable", "reloaded": "reload", "reset": "reset"}
_RULE_FILES = (
    "/lib/ufw/user.rules", "/lib/ufw/user6.rules", "/etc/ufw/user.rules",
    "/etc/ufw/user6.rules", "/var/lib/ufw/user.rules", "/var/lib/ufw/user6.rules",
)
_SECTION = re.compile(r"\n--kprov-(\w+)\n")
_H16 = "[0-9a-fA-F]{1,4}"
_V4 = r"((25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])\.){3,3}(25[0-5]|(2[0-4]|1{0,1}[0-9]){0,1}[0-9])"
_IPV4 = re.compile(_V4)
_IPV6 = re.compile(
    rf"(({_H16}:){{7,7}}{_H16}|({_H16}:){{1,7}}:|({_H16}:){{1,6}}:{_H16}|({_H16}:){{1,5}}(:{_H16}){{1,2}}"
    rf"|({_H16}:){{1,4}}(:{_H16}){{1,3}}|({_H16}:){{1,3}}(:{_H16}){{1,4}}|({_H16}:){{1,2}}(:{_H16}){{1,5}}"
    rf"|{_H16}:((:{_H16}){{1,6}})|:((:{_H16}){{1,7}}|:)|fe80:(:[0-9a-fA-F]{{0,4}}){{0,4}}%[0-9a-zA-Z]{{1,}}"
    rf"|::(ffff(:0{{1,4}}){{0,1}}:){{0,1}}{_V4}|({_H16}:){{1,4}}:{_V4})"
)


def _which(program: str) -> str:
    """Where the program is, searched as the collection's get_bin_path (PATH, then sbin)."""
    return (f'for d in $(echo "$PATH" | tr : " ") /sbin /usr/sbin /usr/local/sbin; do '
            f'if [ -x "$d/{program}" ]; then echo "$d/{program}"; break; fi; done')


def _sections(stdout: str) -> dict[str, str]:
    parts = _SECTION.split("\n" + stdout)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _lines_matching(pattern: re.Pattern[str], text: str) -> str:
    return "".join(line for line in text.splitlines(True) if pattern.search(line))


def rule_words(params: Mapping[str, Any], insert_to: int | None, comments: bool) -> list[str]:
    """The rule's words after ``ufw [--dry-run]``, in the collection's long format."""
    words: list[str] = []
    if params["route"]:
        words.append("route")
    if params["delete"]:
        words.append("delete")
    if params["insert"] is not None and not params["delete"] and insert_to is not None:
        words.append(f"insert {insert_to}")
    words.append(params["rule"])
    optional = [
        ("direction", "{}"), ("interface", "on {}"), ("interface_in", "in on {}"),
        ("interface_out", "out on {}"),
    ]
    words += [template.format(params[key]) for key, template in optional if params[key]]
    if params["log"]:
        words.append("log")
    for key, template in (("from_ip", "from {}"), ("from_port", "port {}"), ("to_ip", "to {}"),
                          ("to_port", "port {}"), ("proto", "proto {}"), ("name", "app '{}'")):
        if params[key]:
            words.append(template.format(params[key]))
    if comments and params["comment"]:
        words.append(f"comment '{params['comment']}'")
    return words


def _version(out: str) -> tuple[int, int]:
    lines = [line for line in out.split("\n") if line.strip()]
    found = re.search(r"^ufw.+(\d+)\.(\d+)(?:\.(\d+))?.*$", lines[0]) if lines else None
    if found is None:
        raise ModuleFailed("Failed to get ufw version.", rc=0, out=out)
    return int(found.group(1)), int(found.group(2))


def _insert_position(params: Mapping[str, Any], numbered: str) -> int | None:
    """``insert`` relative to the numbered rules as the collection counts them (None: append)."""
    relative = params["insert_relative_to"]
    if relative == "zero":
        return int(params["insert"])
    rules = [(int(m.group(1)), "(v6)" in line) for line in numbered.splitlines()
             if (m := re.match(r"^\[ *([0-9]+)\] ", line))]
    last = max((n for n, _ in rules), default=0)
    v4 = [n for n, v6 in rules if not v6]
    has_v6 = any(v6 for _, v6 in rules)
    base = {
        "first-ipv4": 1,
        "last-ipv4": max(v4) if v4 else 1,
        "first-ipv6": max(v4) + 1 if v4 else 1,
        "last-ipv6": last if has_v6 else last + 1,
    }[relative]
    position = int(params["insert"]) + base
    return None if position > last else position


@dataclass
class _Run:
    """One module run: the commands sent (the collection's ``commands``) and their outputs."""

    ctx: ModuleContext
    ufw: str
    grep: str
    sent: list[str] = field(default_factory=list)

    def note(self, command: str) -> None:
        self.sent.append(command)

    def execute(self, command: str, *, acts: bool) -> str:
        self.sent.append(command)
        line = f"LANG=C {command}"
        done = self.ctx.run(line) if acts else self.ctx.read(line)
        if done.rc != 0:
            raise ModuleFailed(done.stderr or done.stdout, commands=list(self.sent))
        return done.stdout

    def rules(self) -> str:
        command = f"{self.grep} -h '^### tuple' {' '.join(_RULE_FILES)}"
        self.sent.append(command)
        return self.ctx.read(command).stdout


@dataclass(frozen=True)
class UfwPlan:
    """What the probe told (where ufw and grep are, the status and rule tuples read first,
    its version for a rule) and the ``steps`` (state, default, rule, logging) to send."""

    ufw: str
    grep: str
    read: list[str]  # the collection's first commands (the reads), reported in ``commands``
    pre_state: str = ""
    pre_rules: str = ""
    steps: list[str] = field(default_factory=list)  # the options given, in the order sent
    changed: bool = False  # judged before acting: a reload/reset, or the logging level differs
    check_changed: bool = False  # the same, in check mode, with state and default from the status
    version: str = ""  # ufw --version's output (read for a rule)
    params: dict[str, Any] = field(default_factory=dict)


class UfwModule(ModuleBase):
    name = "ufw"
    spec = {
        "state": Arg(choices=tuple(_STATES)),
        "default": Arg(aliases=("policy",), choices=("allow", "deny", "reject")),
        "logging": Arg(choices=("full", "high", "low", "medium", "off", "on")),
        "direction": Arg(choices=("in", "incoming", "out", "outgoing", "routed")),
        "delete": Arg("bool", default=False),
        "route": Arg("bool", default=False),
        "insert": Arg("int"),
        "insert_relative_to": Arg(default="zero",
                                  choices=("zero", "first-ipv4", "last-ipv4", "first-ipv6", "last-ipv6")),
        "rule": Arg(choices=("allow", "deny", "limit", "reject")),
        "interface": Arg(aliases=("if",)),
        "interface_in": Arg(aliases=("if_in",)),
        "interface_out": Arg(aliases=("if_out",)),
        "log": Arg("bool", default=False),
        "from_ip": Arg(default="any", aliases=("from", "src")),
        "from_port": Arg(),
        "to_ip": Arg(default="any", aliases=("dest", "to")),
        "to_port": Arg(aliases=("port",)),
        "proto": Arg(aliases=("protocol",),
                     choices=("ah", "any", "esp", "ipv6", "tcp", "udp", "gre", "igmp", "vrrp")),
        "name": Arg(aliases=("app",)),
        "comment": Arg(),
    }

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        p = parse_args(self.name, self.spec, args)
        exclusive = (("name", "proto", "logging"), ("direction", "interface_in"),
                     ("direction", "interface_out"))
        for group in exclusive:
            if sum(p[key] is not None for key in group) > 1:
                raise ModuleFailed(f"parameters are mutually exclusive: {'|'.join(group)}")
        if all(p[key] is None for key in _COMMAND_KEYS):
            raise ModuleFailed(f"one of the following is required: {', '.join(_COMMAND_KEYS)}")
        if p["interface"] is not None and p["direction"] is None:
            raise ModuleFailed("missing parameter(s) required by 'interface': direction")
        if p["default"] and p["direction"] not in ("outgoing", "incoming", "routed", None):
            raise ModuleFailed('For default, direction must be one of "outgoing", "incoming" and '
                               '"routed", or direction must not be specified.')
        if p["rule"]:
            if p["direction"] not in ("in", "out", None):
                raise ModuleFailed('For rules, direction must be one of "in" and "out", or direction '
                                   "must not be specified.")
            if not p["route"] and p["interface_in"] and p["interface_out"]:
                raise ModuleFailed("Only route rules can combine interface_in and interface_out")
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        version = "; printf '\\n--kprov-VERSION\\n'; LANG=C ufw --version" if params["rule"] else ""
        return [
            f"printf -- '--kprov-UFW\\n'; {_which('ufw')}; printf '\\n--kprov-GREP\\n'; {_which('grep')}; "
            "printf '\\n--kprov-STATUS\\n'; LANG=C ufw status verbose 2>&1; printf '\\n--kprov-RC\\n%s' $?; "
            f"printf '\\n--kprov-RULES\\n'; grep -h '^### tuple' {' '.join(_RULE_FILES)} 2>/dev/null"
            f"{version}"
        ]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> UfwPlan:
        """What the probe tells and the steps to send, with the change judged before acting
        (``changed``; ``check_changed`` in check mode, from the status read first)."""
        (probe,) = observed.values()
        found = _sections(probe.stdout)
        ufw, grep = found.get("UFW", "").strip(), found.get("GREP", "").strip()
        if not ufw:
            raise ModuleFailed('Failed to find required executable "ufw"')
        grep = grep or "grep"
        read = [f"{ufw} status verbose"]
        pre_state = found.get("STATUS", "")
        if found.get("RC", "0").strip() != "0":
            raise ModuleFailed(pre_state, commands=list(read))
        read.append(f"{grep} -h '^### tuple' {' '.join(_RULE_FILES)}")
        steps = [key for key in _COMMAND_KEYS if params[key]]
        changed = check_changed = False
        for key in steps:
            value = params[key]
            if key == "state":
                changed = changed or value in ("reloaded", "reset")
                enabled = " active" in pre_state  # "inactive" has no space before "active"
                check_changed = check_changed or value in ("reloaded", "reset") \
                    or (value == "disabled") == enabled
            elif key == "logging":
                changed = changed or _logging_changes(pre_state, value)
                check_changed = check_changed or _logging_changes(pre_state, value)
            elif key == "default":
                check_changed = check_changed or _default_changes(pre_state, value, params["direction"])
        return UfwPlan(ufw=ufw, grep=grep, read=read, pre_state=pre_state, pre_rules=found.get("RULES", ""),
                       steps=steps, changed=changed, check_changed=check_changed,
                       version=found.get("VERSION", ""), params=dict(params))

    def act(self, ctx: ModuleContext, plan: UfwPlan) -> ModuleResult:
        """Send the steps in the collection's order and judge the change after (in check mode:
        only ``--dry-run`` reads, a rule judged from the tuples they print)."""
        run = _Run(ctx, plan.ufw, plan.grep, sent=list(plan.read))
        check = ctx.check_mode
        prefix = f"{plan.ufw} --dry-run" if check else plan.ufw
        changed = plan.check_changed if check else plan.changed
        for key in plan.steps:
            value = plan.params[key]
            if key == "state":
                if not check:
                    run.execute(f"{prefix} -f {_STATES[value]}", acts=True)
            elif key == "logging":
                if not check:
                    run.execute(f"{prefix} logging {value}", acts=True)
            elif key == "default":
                if not check:
                    run.execute(" ".join(filter(None, [prefix, "default", value, plan.params["direction"]])),
                                acts=True)
            else:
                changed = self._rule(run, plan, prefix, check) or changed
        if check:
            return ModuleResult(changed=changed, data={"commands": run.sent})
        post_state = run.execute(f"{plan.ufw} status verbose", acts=False)
        if not changed:
            changed = post_state != plan.pre_state or run.rules() != plan.pre_rules
        return ModuleResult(changed=changed, msg=post_state.rstrip(), data={"commands": run.sent})

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        return self.act(ctx, self.decide(params, read_declared(self, ctx, params)))

    def _rule(self, run: _Run, plan: UfwPlan, prefix: str, check: bool) -> bool:
        p = plan.params
        insert_to: int | None = None
        if p["insert"] is not None and not p["delete"]:
            numbered = "" if p["insert_relative_to"] == "zero" else \
                run.ctx.read(f"LANG=C {run.ufw} status numbered").stdout
            insert_to = _insert_position(p, numbered)
        run.note(f"{run.ufw} --version")
        major, minor = _version(plan.version)  # a comment is given to ufw 0.35 and later only
        dry = run.execute(" ".join([prefix, *rule_words(p, insert_to, major > 0 or minor >= 35)]),
                          acts=not check)
        if not check:
            return False
        lines = dry.splitlines(True)
        skipping = sum("Skipping" in line for line in lines)
        if skipping and skipping == len(lines):
            return False
        dry = "".join(line for line in lines if line.startswith("### tuple"))
        pre_rules = plan.pre_rules
        if _IPV4.match(p["from_ip"] or "") or _IPV4.match(p["to_ip"] or ""):
            return _lines_matching(_IPV4, pre_rules) != _lines_matching(_IPV4, dry)
        if _IPV6.match(p["from_ip"] or "") or _IPV6.match(p["to_ip"] or ""):
            return _lines_matching(_IPV6, pre_rules) != _lines_matching(_IPV6, dry)
        return pre_rules != dry


def _logging_changes(status: str, value: str) -> bool:
    found = re.search(r"Logging: (on|off)(?: \(([a-z]+)\))?", status)
    if not found:
        return True
    on_off, level = found.group(1), found.group(2)
    if value == "off":
        return on_off != "off"
    return on_off == "off" or (value != "on" and value != level)


def _default_changes(status: str, value: str, direction: str | None) -> bool:
    found = re.search(r"Default: (deny|allow|reject) \(incoming\), (deny|allow|reject) \(outgoing\), "
                      r"(deny|allow|reject|disabled) \(routed\)", status)
    if found is None:
        return True
    current = dict(zip(("incoming", "outgoing", "routed"), found.groups(), strict=True))
    return current[direction or "incoming"] not in (value, "disabled")


MODULE = UfwModule()
