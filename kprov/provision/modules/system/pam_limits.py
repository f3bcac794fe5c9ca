"""community.general.pam_limits: one ``domain type item value`` line of a limits.conf file.

Three steps (modules.contract): the file probe reads ``dest``; ``decide`` walks its lines as
the Ansible module does — comments and lines that are not four fields stay, the line of the
same domain/type/item gets the new value (``use_max``/``use_min`` keep the larger/smaller,
``unlimited``/``infinity``/``-1`` counting as the largest), or a tab-separated line is
appended — and plans the new text; ``act`` writes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule
from kprov.provision.modules.files.fileops import content_diff, parse_probe, probe_script

__all__ = ["MODULE", "PamLimitsModule"]

_TYPES = ("hard", "soft", "-")
_ITEMS = ("core", "data", "fsize", "memlock", "nofile", "rss", "stack", "cpu", "nproc", "as",
          "maxlogins", "maxsyslogins", "priority", "locks", "sigpending", "msgqueue", "nice",
          "rtprio", "chroot")
_UNLIMITED = ("unlimited", "infinity", "-1")


class PamLimitsModule(ThreeStepModule):
    name = "pam_limits"
    spec = {
        "domain": Arg(required=True),
        "limit_type": Arg(required=True, choices=_TYPES),
        "limit_item": Arg(required=True, choices=_ITEMS),
        "value": Arg(required=True),
        "use_max": Arg(type="bool", default=False),
        "use_min": Arg(type="bool", default=False),
        "backup": Arg(type="bool", default=False),
        "dest": Arg(default="/etc/security/limits.conf"),
        "comment": Arg(default=""),
    }

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [probe_script(params["dest"], content=True, follow=True)]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        dest = params["dest"]
        (probe,) = observed.values()
        state = parse_probe(dest, probe.stdout)
        if params["use_max"] and params["use_min"]:
            return Plan(failed="Cannot use use_min and use_max at the same time.")
        value = str(params["value"])
        if not (value in _UNLIMITED or re.fullmatch(r"-?\d+", value)):
            return Plan(failed=f"Argument 'value' must be an integer or one of {', '.join(_UNLIMITED)}, "
                               f"got {value!r}")
        before = (state.data or b"").decode("utf-8", "surrogateescape") if state.exists else ""
        lines = before.splitlines(keepends=True)
        out: list[str] = []
        changed = not state.exists
        found = False
        message = ""
        comment = str(params["comment"])
        key = (params["domain"], params["limit_type"], params["limit_item"])
        for line in lines:
            fields = re.sub(r"\s+", " ", line).strip().split("#", 1)[0].rstrip().split(" ")
            if line.startswith("#") or not line.strip() or len(fields) != 4 or tuple(fields[:3]) != key:
                out.append(line)
                continue
            found = True
            old_comment = line.split("#", 1)[1] if "#" in line else ""
            comment = comment or old_comment
            new_value = self._pick(params, fields[3], value)
            if new_value == fields[3]:
                message = line
                out.append(line)
                continue
            changed = True
            message = self._line(key, new_value, comment)
            out.append(message)
        if not found:
            changed = True
            message = self._line(key, value, comment)
            out.append(message)
        after = "".join(out)
        plan = Plan(changed=changed, msg=message, data={})
        if changed:
            plan.files = {dest: after}
            plan.diff = [content_diff(dest, state.data if state.exists else None,
                                      after.encode("utf-8", "surrogateescape"))]
        return plan

    @staticmethod
    def _line(key: tuple[str, str, str], value: str, comment: str) -> str:
        return "\t".join([*key, value]) + (f"\t#{comment}" if comment else "") + "\n"

    @staticmethod
    def _pick(params: Mapping[str, Any], actual: str, value: str) -> str:
        if not (params["use_max"] or params["use_min"]):
            return value
        ranked = params["limit_item"] not in ("nice", "priority")
        actual_unl = ranked and actual in _UNLIMITED
        value_unl = ranked and value in _UNLIMITED
        if params["use_max"]:
            if actual_unl or value_unl:
                return actual if actual_unl else value
            return str(max(int(value), int(actual)))
        if actual_unl and value_unl:
            return actual
        if actual_unl or value_unl:
            return value if actual_unl else actual
        return str(min(int(value), int(actual)))


MODULE = PamLimitsModule()
