"""ansible.posix.sysctl: a kernel parameter in a sysctl file and (optionally) at runtime.

One command reads the file and the live value (/proc/sys). The file line is ``name=value``
(Ansible's form; an existing line for the name, dotted or slashed, is replaced in place).
``sysctl_set`` compares and sets the live value; ``reload`` runs ``sysctl -p FILE`` after a
file change. Where the kernel refuses (read-only /proc/sys in containers: lab hosts allow
net.* only), the task fails with a message saying so, unless ``ignoreerrors``. In the
module contract's steps: ``decide`` (pure) gives a frozen ``SysctlPlan``, ``act`` writes and sets.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, decide_then_act
from kprov.provision.modules.files.fileops import content_diff, write_file

__all__ = ["MODULE", "SysctlModule", "SysctlPlan", "normalize_value", "query_script", "set_in_file"]

SPEC = {
    "name": Arg(required=True, aliases=("key",)), "value": Arg("raw", aliases=("val",)),
    "state": Arg(default="present", choices=("present", "absent")),
    "reload": Arg("bool", default=True), "sysctl_file": Arg(default="/etc/sysctl.conf"),
    "sysctl_set": Arg("bool", default=False), "ignoreerrors": Arg("bool", default=False),
}


def normalize_value(value: Any) -> str:
    """Compare values as the kernel prints them: words separated by single spaces; bools 1/0."""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value).strip()
    if text.lower() in ("yes", "true", "on"):
        return "1"
    if text.lower() in ("no", "false", "off"):
        return "0"
    return " ".join(text.split())


def _key(name: str) -> str:
    return name.strip().replace("/", ".")


def set_in_file(text: str, name: str, value: str | None) -> str:
    """``text`` with ``name=value`` set (value None: the name's lines removed)."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    done = False
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", ";")) and "=" in stripped:
            key, _, current = stripped.partition("=")
            if _key(key) == _key(name):
                if value is None or done:
                    continue
                if normalize_value(current) == value:
                    out.append(line)
                else:
                    out.append(f"{name}={value}\n")
                done = True
                continue
        out.append(line)
    if value is not None and not done:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.append(f"{name}={value}\n")
    return "".join(out)


def query_script(path: str, proc: str) -> str:
    """The one probe: the sysctl file's content, the live value, and whether it can be set."""
    q_file, q_proc = shlex.quote(path), shlex.quote(proc)
    return (f"printf 'FILE:'; [ -f {q_file} ] && base64 -w0 -- {q_file}; echo; "
            f"printf 'LIVE:'; cat -- {q_proc} 2>/dev/null | tr '\\n\\t' '  '; echo; "
            f"[ -w {q_proc} ] && echo WRITABLE:1; true")


def _proc(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/")


@dataclass(frozen=True)
class SysctlPlan:
    """The file's new ``content`` (None: unchanged) and the live value's ``set_command``
    (None: not set), with what the task reports."""

    changed: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)
    path: str = ""
    content: bytes | None = None
    file_existed: bool = False
    set_command: str | None = None
    writable: bool = False
    ignoreerrors: bool = False


class SysctlModule(ModuleBase):
    name = "sysctl"
    spec = SPEC

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        p = parse_args(self.name, SPEC, args)
        if p["state"] == "present" and p["value"] is None:
            raise ModuleFailed("sysctl: argument 'value' is required with state=present")
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [query_script(params["sysctl_file"], _proc(_key(params["name"])))]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> SysctlPlan:
        p = params
        name = _key(p["name"])
        value = normalize_value(p["value"]) if p["state"] == "present" else None
        proc = _proc(name)
        path = p["sysctl_file"]
        (query,) = observed.values()
        fields = dict(line.partition(":")[::2] for line in query.stdout.splitlines() if ":" in line)
        before = base64.b64decode(fields.get("FILE", "")).decode("utf-8", "surrogateescape")
        live = normalize_value(fields.get("LIVE", ""))
        known = bool(fields.get("LIVE", "").strip())
        if not known and p["state"] == "present" and not p["ignoreerrors"]:
            raise ModuleFailed(f"sysctl: unknown kernel parameter {name} (no {proc} on this host)")
        after = set_in_file(before, name, value)
        file_changed = after != before
        live_changed = bool(p["sysctl_set"] and value is not None and known and live != value)
        diff: list[dict[str, Any]] = []
        if file_changed:
            diff.append(content_diff(path, before.encode("utf-8", "surrogateescape"),
                                     after.encode("utf-8", "surrogateescape")))
        if live_changed:
            diff.append({"before": {name: live}, "after": {name: value}})
        needs_live = live_changed or (file_changed and p["reload"] and value is not None and live != value)
        return SysctlPlan(
            changed=file_changed or live_changed, data={"name": name, "value": value, "live_value": live},
            diff=diff, path=path, content=after.encode("utf-8", "surrogateescape") if file_changed else None,
            file_existed=bool(before),
            set_command=f"sysctl -w {shlex.quote(f'{name}={value}')}" if needs_live else None,
            writable="WRITABLE" in fields, ignoreerrors=p["ignoreerrors"])

    def act(self, ctx: ModuleContext, plan: SysctlPlan) -> dict[str, Any]:
        """Write the file, then set the live value; returns what the act adds to the result."""
        name, value = plan.data["name"], plan.data["value"]
        if plan.content is not None:
            write_file(ctx, plan.path, plan.content, mode=None, owner=None, group=None, backup=False,
                       exists=plan.file_existed)
        if plan.set_command is None:
            return {}
        applied = ctx.run(plan.set_command)
        if applied.rc != 0 and not plan.ignoreerrors:
            read_only = not plan.writable or "Read-only" in applied.stderr
            hint = (f" ({_proc(name)} is read-only here: a container cannot change this kernel parameter; "
                    "set it on the machine, or use ignoreerrors: true to only write the file)"
                    if read_only else "")
            raise ModuleFailed(f"sysctl: setting {name}={value} failed: {applied.stderr.strip()}{hint}",
                               **plan.data)
        if applied.rc != 0:
            return {"warnings": [f"setting {name} at runtime failed: {applied.stderr.strip()}"]}
        return {}

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        return decide_then_act(self, ctx, args)


MODULE = SysctlModule()
