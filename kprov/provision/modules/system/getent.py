"""ansible.builtin.getent: entries of an NSS database as the fact ``getent_<database>``.

Three steps (modules.contract), nothing to act on: one probe runs ``getent`` (read-only);
``decide`` splits each line (``:`` for passwd/shadow/group/gshadow, else blanks, or
``split``) into ``{first field: [other fields]}`` — a key seen again becomes a list of such
lists, as Ansible's — and turns getent's exit codes into Ansible's messages (a missing key
fails unless ``fail_key: false``).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule

__all__ = ["MODULE", "GetentModule"]

_COLON = ("passwd", "shadow", "group", "gshadow")


class GetentModule(ThreeStepModule):
    name = "getent"
    spec = {"database": Arg(required=True), "key": Arg(), "split": Arg(), "service": Arg(),
            "fail_key": Arg(type="bool", default=True)}

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        argv = ["getent"]
        if params["service"]:
            argv += ["-s", str(params["service"])]
        argv.append(str(params["database"]))
        if params["key"] is not None:
            argv += str(params["key"]).split(",") if "," in str(params["key"]) else [str(params["key"])]
        return [" ".join(shlex.quote(a) for a in argv) + "; echo RC:$?"]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        (probe,) = observed.values()
        lines = probe.stdout.splitlines()
        rc = int(lines.pop()[3:]) if lines and lines[-1].startswith("RC:") else probe.rc
        database = str(params["database"])
        split = params["split"] or (":" if database in _COLON else None)
        tree: dict[str, Any] = {}
        seen: dict[str, int] = {}
        for line in lines:
            record = line.split(split)
            key, rest = record[0], record[1:]
            if key in seen:
                if seen[key] == 1:
                    tree[key] = [tree[key]]
                tree[key].append(rest)
                seen[key] += 1
            else:
                tree[key], seen[key] = rest, 1
        facts = {"ansible_facts": {f"getent_{database}": tree}}
        if rc == 0:
            return Plan(data=facts)
        if rc == 1:
            return Plan(failed="Missing arguments, or database unknown.")
        if rc == 2:
            if params["fail_key"]:
                return Plan(failed="One or more supplied key could not be found in the database.")
            tree[str(params["key"])] = None
            return Plan(data=facts, msg="One or more supplied key could not be found in the database.")
        if rc == 3:
            return Plan(failed="Enumeration not supported for this database.")
        return Plan(failed=f"Unexpected failure! (getent exit status {rc})")


MODULE = GetentModule()
