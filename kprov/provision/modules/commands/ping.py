"""ansible.builtin.ping: the host answers a command (``ping: <data>``, ``pong`` by default).

Ansible's ping proves that a module runs on the host; kprov's modules run as shell, so its
probe is a shell that prints ``pong``: read-only, it joins the host's look-ahead batch like
any other probe. ``data: crash`` fails the task as Ansible's does (its module raises).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule

__all__ = ["MODULE", "PingModule"]

PROBE = "echo pong"
# ansible-core's message for a module that raised before printing its JSON result (2.18; its
# traceback goes to module_stderr)
CRASH = "MODULE FAILURE: No start of json char found\nSee stdout/stderr for the exact error"


class PingModule(ThreeStepModule):
    name = "ping"
    spec = {"data": Arg(default="pong")}

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [PROBE]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        (probe,) = observed.values()
        if probe.rc != 0 or probe.stdout.strip() != "pong":
            return Plan(failed=f"ping: the host did not answer `{PROBE}` (rc={probe.rc}): "
                               f"{(probe.stderr or probe.stdout).strip()}")
        data = str(params["data"])
        if data == "crash":
            return Plan(failed=CRASH,
                        data={"module_stdout": "", "module_stderr": "Exception: boom\n", "rc": 1})
        return Plan(data={"ping": data})


MODULE = PingModule()
