"""ansible.builtin.slurp: a remote file's content, base64-encoded (``content``, ``encoding``,
``source``), read in one command."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule

__all__ = ["MODULE", "SlurpModule", "slurp_script"]

SPEC = {"src": Arg(required=True, aliases=("path",))}


def slurp_script(src: str) -> str:
    """The probe: the file's bytes in base64, on one line without a newline."""
    return f"base64 -w0 -- {shlex.quote(src)}"


class SlurpModule(ThreeStepModule):
    name = "slurp"
    spec = SPEC

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [slurp_script(params["src"])]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        src = params["src"]
        (result,) = observed.values()
        if result.rc != 0:
            error = result.stderr.strip()
            if "No such file" in error:
                return Plan(failed=f"file not found: {src}")
            if "Is a directory" in error:
                return Plan(failed=f"source is a directory and must be a file: {src}")
            return Plan(failed=f"unable to slurp file: {error}")
        return Plan(data={"content": result.stdout.strip(), "encoding": "base64", "source": src})


MODULE = SlurpModule()
