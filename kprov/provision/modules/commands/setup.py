"""ansible.builtin.setup: gather the host's facts again, optionally only those a filter names.

Three steps (modules.contract), read-only: the probe is the engine's own facts script
(kprov.provision.facts, one command); ``decide`` parses it and keeps the facts whose
``ansible_``-prefixed names match one of ``filter``'s shell patterns (all when none). The
engine then merges them into the host's facts, as Ansible does with a setup result.
``fact_path`` is where ``ansible_local`` is read from. ``gather_subset`` is accepted: kprov
always gathers its one set.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.facts.gather import DEFAULT_FACT_PATH, FactsError, facts_from_result, facts_script
from kprov.provision.facts.names import fact_variable
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule

__all__ = ["MODULE", "SetupModule"]


class SetupModule(ThreeStepModule):
    name = "setup"
    spec = {
        "filter": Arg("list", default=[]),
        "gather_subset": Arg("list", default=["all"]),
        "gather_timeout": Arg("int", default=10),
        "fact_path": Arg(default=DEFAULT_FACT_PATH),
    }

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [facts_script(str(params["fact_path"]))]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        (probe,) = observed.values()
        try:
            facts = facts_from_result("setup", probe.rc, probe.stdout, probe.stderr)
        except FactsError as exc:
            return Plan(failed=str(exc))
        gathered: dict[str, Any] = {fact_variable(name): value for name, value in facts.items()}
        # the collector's own facts, which the filter sees too (Ansible's meta-data collector)
        gathered["gather_subset"] = [str(s) for s in params["gather_subset"]]
        gathered["module_setup"] = True
        patterns = [str(p) for p in params["filter"]]
        chosen = {name: value for name, value in gathered.items()
                  if not patterns or any(_matches(name, p) for p in patterns)}
        return Plan(data={"ansible_facts": chosen})


def _matches(name: str, pattern: str) -> bool:
    """Ansible's filter: the pattern as given, or (unless it names a prefix) with ``ansible_``."""
    if not pattern or fnmatch.fnmatch(name, pattern):
        return True
    prefixed = pattern.startswith(("ansible_", "facter", "ohai"))
    return not prefixed and fnmatch.fnmatch(name, f"ansible_{pattern}")


MODULE = SetupModule()
