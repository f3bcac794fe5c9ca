"""A module run through Ansible's module protocol, as a kprov module (the contract of
``modules.base.Module``): no probes (the host is read by the module itself), every run is an
action (the probe cache is dropped after it), arguments passed through untouched with
ansible-core's internal ``_ansible_`` arguments added (check mode, diff, no_log, verbosity,
the module's name, ...). Check mode is the module's own business, as in ansible-core: a
new-style module that does not support it answers ``skipped``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kprov.provision.modules.base import ModuleContext, ModuleResult, TaskView
from kprov.provision.modules.protocol.answer import parse_answer, to_result
from kprov.provision.modules.protocol.hostcache import is_missing
from kprov.provision.modules.protocol.pack import ModulePack
from kprov.provision.modules.protocol.remote import interpreter_for, module_command

__all__ = ["ProtocolModule", "ansible_version_info", "internal_args"]

_SELINUX_SPECIAL_FS = ["fuse", "nfs", "vboxsf", "ramfs", "9p", "vfat"]
ANSIBLE_VERSION_FALLBACK = "2.18.0"


def _ansible_version() -> str:
    try:
        from ansible.release import __version__  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return ANSIBLE_VERSION_FALLBACK
    return str(__version__)


def ansible_version_info() -> dict[str, Any]:
    """The ``ansible_version`` variable as ansible-core defines it (``CLI.version_info``): the
    version string and its numeric parts, of the ansible-core whose modules kprov runs."""
    full = _ansible_version()
    numbers = [int(part) if part.isdigit() else 0 for part in full.split(".")[:3]] + [0, 0, 0]
    return {"string": full, "full": full, "major": numbers[0], "minor": numbers[1],
            "revision": numbers[2]}


def internal_args(name: str, check: bool, diff: bool, no_log: bool, verbosity: int,
                  task_vars: Mapping[str, Any]) -> dict[str, Any]:
    """ansible-core's ``_update_module_args`` values for a module run."""
    return {
        "_ansible_check_mode": check,
        "_ansible_no_log": no_log,
        "_ansible_debug": False,
        "_ansible_diff": diff,
        "_ansible_verbosity": verbosity,
        "_ansible_version": _ansible_version(),
        "_ansible_module_name": name,
        "_ansible_syslog_facility": str(task_vars.get("ansible_syslog_facility", "LOG_USER")),
        "_ansible_selinux_special_fs": list(_SELINUX_SPECIAL_FS),
        "_ansible_string_conversion_action": "warn",
        "_ansible_socket": None,
        "_ansible_shell_executable": "/bin/sh",
        "_ansible_keep_remote_files": False,
        "_ansible_tmpdir": None,
        "_ansible_remote_tmp": "~/.ansible/tmp",
        "_ansible_ignore_unknown_opts": False,
        "_ansible_target_log_info": None,
    }


@dataclass
class ProtocolModule:
    pack: ModulePack
    no_log: bool = False
    verbosity: int = 0
    changes_judged_by_task: bool = False
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.pack.source.name

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        return dict(args)

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return []

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        full = {**args, **internal_args(self.name, ctx.check_mode, ctx.diff, self.no_log, self.verbosity,
                                         ctx.task_vars)}
        new = self.pack.style == "new"
        command, stdin = module_command(self.pack, full, ctx.task_vars, cached=new)
        answer = ctx.run(command, stdin=stdin)
        if new and is_missing(answer.rc, answer.stdout):  # first run of this module on the host
            command, stdin = module_command(self.pack, full, ctx.task_vars)
            answer = ctx.run(command, stdin=stdin)
        interpreter = (interpreter_for("/usr/bin/python", ctx.task_vars) if self.pack.style == "new"
                       else interpreter_for(self.pack.shebang, ctx.task_vars))
        data = parse_answer(answer.stdout, answer.stderr, answer.rc, interpreter)
        for warning in data.get("warnings") or []:
            ctx.log(f"[WARNING]: {warning}")
        return to_result(data)
