"""ansible.builtin.slurp: a remote file's content, base64-encoded (``content``, ``encoding``,
``source``), read in one command."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, read_declared

__all__ = ["MODULE", "SlurpModule", "slurp_script"]

SPEC = {"src": Arg(required=True, aliases=("path",))}


def slurp_script(src: str) -> str:
    """The probe: the file's bytes in base64, on one line without a newline."""
    return f"base64 -w0 -- {shlex.quote(src)}"


class SlurpModule(ModuleBase):
    name = "slurp"
    spec = SPEC

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [slurp_script(params["src"])]

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        src = params["src"]
        (result,) = read_declared(self, ctx, params).values()
        if result.rc != 0:
            error = result.stderr.strip()
            if "No such file" in error:
                raise ModuleFailed(f"file not found: {src}")
            if "Is a directory" in error:
                raise ModuleFailed(f"source is a directory and must be a file: {src}")
            raise ModuleFailed(f"unable to slurp file: {error}")
        return ModuleResult(data={"content": result.stdout.strip(), "encoding": "base64", "source": src})


MODULE = SlurpModule()
