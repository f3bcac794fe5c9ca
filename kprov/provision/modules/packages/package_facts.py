"""ansible.builtin.package_facts: the installed packages as the fact ``packages``.

Three steps (modules.contract), nothing to act on: one probe asks dpkg for every installed
package (``dpkg-query``: name, version, architecture, status); ``decide`` keeps those whose
status is ``install ok installed`` and shapes them as Ansible's apt backend does:
``{name: [{name, version, arch, category, origin, source: apt}]}``. Only the apt/dpkg
manager exists on kprov's hosts (``manager: auto`` picks it; others fail clearly).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule

__all__ = ["MODULE", "PackageFactsModule"]

_QUERY = ("dpkg-query -W -f='${Package}\\t${Version}\\t${Architecture}\\t${Status}\\t${Section}"
          "\\t${Origin}\\n' 2>/dev/null")


class PackageFactsModule(ThreeStepModule):
    name = "package_facts"
    spec = {"manager": Arg(type="list", default=["auto"]),
            "strategy": Arg(default="first", choices=("first", "all"))}

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [f"command -v dpkg-query >/dev/null || {{ echo NODPKG; exit 0; }}; {_QUERY}"]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        managers = [str(m) for m in params["manager"]]
        unknown = [m for m in managers if m not in ("auto", "apt", "dpkg")]
        if unknown:
            return Plan(failed="package_facts: kprov reads only apt/dpkg packages "
                               f"(asked: {', '.join(unknown)})")
        (probe,) = observed.values()
        if probe.stdout.strip() == "NODPKG":
            return Plan(failed="Could not detect a supported package manager from the following list: "
                               f"{', '.join(managers)}, or the required Python library is not installed.")
        packages: dict[str, list[dict[str, Any]]] = {}
        for line in probe.stdout.splitlines():
            fields = line.split("\t")
            if len(fields) < 4 or fields[3] != "install ok installed":
                continue
            name, version, arch = fields[:3]
            section = fields[4] if len(fields) > 4 else ""
            entry = {"name": name, "version": version, "arch": arch, "category": section.split("/")[-1],
                     "origin": fields[5] if len(fields) > 5 else "", "source": "apt"}
            packages.setdefault(name, []).append(entry)
        return Plan(data={"ansible_facts": {"packages": packages}})


MODULE = PackageFactsModule()
