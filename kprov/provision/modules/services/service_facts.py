"""ansible.builtin.service_facts: every service's state as the fact ``services``.

Three steps (modules.contract), nothing to act on: one probe lists systemd's service units
(``list-units``, then ``list-unit-files`` with each file's ActiveState in one ``systemctl
show``) and the SysV scripts (``service --status-all``); ``decide`` builds the mapping as
Ansible's does — SysV entries keyed by script name (source ``sysv``), systemd ones by unit
name with ``state`` running/stopped (or the ActiveState of units not loaded) and ``status``
the unit's load state when bad (not-found/masked/failed), else its enablement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule

__all__ = ["MODULE", "ServiceFactsModule"]

_SEP = "--KPROV-SERVICES--"
_BAD = ("not-found", "masked", "failed")
_SYSV = re.compile(r"^\s*\[ (?P<state>\+|\-) \]\s+(?P<name>.+)$", re.M)


class ServiceFactsModule(ThreeStepModule):
    name = "service_facts"
    spec = {}

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        files = "systemctl list-unit-files --no-pager --type service --all"
        return [
            f"command -v service >/dev/null && service --status-all 2>&1; echo {_SEP}; "
            "[ -d /run/systemd/system ] || exit 0; "
            f"systemctl list-units --no-pager --type service --all --plain; echo {_SEP}; "
            f"{files}; echo {_SEP}; "
            f"systemctl show --property=Id,ActiveState $({files} --no-legend | awk '{{print $1}}'); true"
        ]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        (probe,) = observed.values()
        parts = (probe.stdout.split(_SEP + "\n") + ["", "", "", ""])[:4]
        sysv, units, unit_files, shown = parts
        services: dict[str, dict[str, Any]] = {}
        for match in _SYSV.finditer(sysv):
            name = match.group("name")
            services[name] = {"name": name, "state": "running" if match.group("state") == "+" else "stopped",
                              "source": "sysv"}
        for line in (x for x in units.split("\n") if ".service" in x):
            fields = line.split()
            status = next((bad for bad in _BAD if bad in fields[:-1]), fields[2] if len(fields) > 2 else "")
            state = "running" if fields[3:4] == ["running"] else "stopped"
            services[fields[0]] = {"name": fields[0], "state": state, "status": status, "source": "systemd"}
        active: dict[str, str] = {}
        for block in shown.strip().split("\n\n"):
            props = dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line)
            if props.get("Id"):
                active[props["Id"]] = props.get("ActiveState", "") or "unknown"
        for line in (x for x in unit_files.split("\n") if ".service" in x):
            fields = line.split()
            if len(fields) < 2:
                continue
            name, status = fields[:2]
            if name not in services or services[name].get("source") != "systemd":
                services[name] = {"name": name, "state": active.get(name, "unknown"), "status": status,
                                  "source": "systemd"}
            elif services[name]["status"] not in _BAD:
                services[name]["status"] = status
        return Plan(data={"ansible_facts": {"services": services}})


MODULE = ServiceFactsModule()
