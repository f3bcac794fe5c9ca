"""ansible.builtin.cron: one job or environment variable of a user's crontab or a cron.d file.

Three steps (modules.contract). One probe reads the crontab: ``crontab -l`` (``-u USER``
when the task's user is not the one running it; rc 1 means no crontab yet), or the cron
file (absolute, or a name under /etc/cron.d) with a line saying whether it exists. The
decision edits the text with ``system.crontab`` as the module does and changes the host
only when the rendered text differs from what was read (or lacks its final newline). A
user crontab is installed with ``crontab [-u USER] -`` (the text on standard input), a cron
file is written through the shell's redirection, a cron file left without jobs is deleted.
``backup`` saves the text as read into a ``/tmp/crontab*`` file first and returns its path.
The diff carries the texts before and after with the module's headers.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule, read_declared
from kprov.provision.modules.system.crontab import CronTabText, EnvNotFound, cron_line

__all__ = ["MODULE", "CronModule"]

_SPECIAL = ("reboot", "yearly", "annually", "monthly", "weekly", "daily", "hourly")
_TIME_FIELDS = ("minute", "hour", "day", "month", "weekday")
_EXISTS, _ABSENT = "+exists", "+absent"


@dataclass
class CronPlan(Plan):
    """A plan whose new user crontab goes to ``crontab -`` on standard input."""

    crontab_text: str | None = None
    backup_text: str | None = None


def _as_user(user: str | None, args: str) -> str:
    """``crontab ARGS``, with ``-u USER`` unless USER is the one running it (as the module)."""
    if user is None:
        return f"crontab {args}"
    quoted = shlex.quote(user)
    return f'if [ "$(id -un)" = {quoted} ]; then crontab {args}; else crontab -u {quoted} {args}; fi'


def _cron_path(cron_file: str) -> str:
    return cron_file if os.path.isabs(cron_file) else os.path.join("/etc/cron.d", cron_file)


def _header(params: Mapping[str, Any]) -> str:
    if params["cron_file"]:
        return _cron_path(params["cron_file"])
    return f'crontab for user "{params["user"]}"' if params["user"] else "crontab"


def _edit_env(tab: CronTabText, p: Mapping[str, Any], installing: bool) -> tuple[bool, str]:
    """Add, replace or remove the ``name="job"`` variable line: (changed, why it failed or "")."""
    name = p["name"]
    if " " in name:
        return False, "Invalid name for environment variable"
    decl = f'{name}="{p["job"]}"'
    old = tab.find_env(name)
    if installing and old is None:
        try:
            tab.add_env(decl, p["insertafter"], p["insertbefore"])
        except EnvNotFound as exc:
            return False, str(exc)
        return True, ""
    if installing and old is not None and old[1] != decl:
        tab.replace_env(name, decl)
        return True, ""
    if not installing and old is not None:
        tab.replace_env(name, None)
        return True, ""
    return False, ""


class CronModule(ThreeStepModule):
    name = "cron"
    spec = {
        "name": Arg(required=True),
        "user": Arg(),
        "job": Arg(aliases=("value",)),
        "cron_file": Arg(),
        "state": Arg(default="present", choices=("present", "absent")),
        "backup": Arg("bool", default=False),
        "minute": Arg(default="*"),
        "hour": Arg(default="*"),
        "day": Arg(default="*", aliases=("dom",)),
        "month": Arg(default="*"),
        "weekday": Arg(default="*", aliases=("dow",)),
        "special_time": Arg(choices=_SPECIAL),
        "disabled": Arg("bool", default=False),
        "env": Arg("bool", default=False),
        "insertafter": Arg(),
        "insertbefore": Arg(),
    }

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        p = parse_args(self.name, self.spec, args)
        if p["insertafter"] is not None and p["insertbefore"] is not None:
            raise ModuleFailed("parameters are mutually exclusive: insertafter|insertbefore")
        if p["cron_file"] == "/etc/crontab":
            raise ModuleFailed("Will not manage /etc/crontab via cron_file, see documentation.")
        if p["special_time"] and any(p[f] != "*" for f in _TIME_FIELDS):
            raise ModuleFailed("You must specify time and date fields or special time.")
        if p["state"] == "present":
            if p["cron_file"] and not p["user"]:
                raise ModuleFailed("To use cron_file=... parameter you must specify user=... as well")
            if p["job"] is None:
                raise ModuleFailed("You must specify 'job' to install a new cron job or variable")
            if (p["insertafter"] or p["insertbefore"]) and not p["env"]:
                raise ModuleFailed("Insertafter and insertbefore parameters are valid only with env=yes")
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        if params["cron_file"]:
            path = shlex.quote(_cron_path(params["cron_file"]))
            return [f"if [ -f {path} ]; then echo {_EXISTS}; cat {path}; else echo {_ABSENT}; fi"]
        return [_as_user(params["user"], "-l")]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> CronPlan:
        (probe,) = observed.values()
        p = params
        cron_file = p["cron_file"]
        exists = True
        if cron_file:
            first, _, text = probe.stdout.partition("\n")
            exists = first == _EXISTS
            tab = CronTabText.parse(text if exists else "", listed=False)
        else:
            if probe.rc not in (0, 1):
                return CronPlan(failed="Unable to read crontab")
            tab = CronTabText.parse(probe.stdout, listed=True)
        read_text = tab.render()  # what a backup holds
        header = _header(p)
        diff: dict[str, Any] = {"before": tab.existing, "before_header": header}
        warnings: list[str] = []
        if cron_file and not re.search(r"^[A-Z0-9_-]+$", os.path.basename(cron_file), re.I):
            warnings.append(f'Filename portion of cron_file ("{os.path.basename(cron_file)}") should consist'
                            " solely of upper- and lower-case letters, digits, underscores, and hyphens")
        installing = p["state"] == "present"
        changed = False
        name = p["name"]
        if p["env"]:
            changed, failure = _edit_env(tab, p, installing)
            if failure:
                return CronPlan(failed=failure)
        elif installing:
            job = str(p["job"])
            if "\r" in job.strip("\r\n") or "\n" in job.strip("\r\n"):
                warnings.append("Job should not contain line breaks")
            fields = (p["minute"], p["hour"], p["day"], p["month"], p["weekday"])
            line = cron_line(fields, job, special=p["special_time"], disabled=p["disabled"],
                             file_user=p["user"] if cron_file else None)
            found = tab.find_job(name, line)
            if not found:
                tab.add_job(name, line)
                changed = True
            elif found[1] != line or len(found) > 2:
                tab.replace_job(name, line)
                changed = True
        elif tab.find_job(name):
            tab.replace_job(name, None)
            changed = True
            if cron_file and tab.is_empty():  # the file goes (the module ends here)
                path = _cron_path(cron_file)
                return CronPlan(
                    changed=exists,
                    commands=[f"rm -f {shlex.quote(path)}"] if exists else [],
                    data={"cron_file": cron_file, "state": p["state"]},
                    diff=[{**diff, "after": "", "after_header": "/dev/null"}],
                )
        if not changed and tab.existing and not tab.existing.endswith(("\r", "\n")):
            changed = True  # the module rewrites a crontab without its final newline
        data: dict[str, Any] = {"jobs": tab.job_names(), "envs": tab.env_names(), "warnings": warnings}
        if cron_file:
            data["cron_file"] = cron_file
        if not changed:
            return CronPlan(data=data)
        rendered = tab.render()
        plan = CronPlan(changed=True, data=data,
                        diff=[{**diff, "after": rendered, "after_header": header}],
                        backup_text=read_text if p["backup"] else None)
        if cron_file:
            plan.files = {_cron_path(cron_file): rendered}
        else:
            plan.crontab_text = rendered
            plan.commands = [_as_user(p["user"], "-")]
        return plan

    def act(self, ctx: ModuleContext, plan: Plan) -> None:
        assert isinstance(plan, CronPlan)
        if plan.backup_text is not None:
            saved = ctx.run('f=$(mktemp /tmp/crontabXXXXXXXX) && cat > "$f" && echo "$f"',
                            stdin=plan.backup_text.encode())
            if saved.rc != 0:
                raise ModuleFailed(f"cron: cannot write a backup: {saved.stderr.strip()}")
            plan.data["backup_file"] = saved.stdout.strip()
        if plan.crontab_text is None:
            super().act(ctx, plan)
            return
        (command,) = plan.commands
        done = ctx.run(command, stdin=plan.crontab_text.encode())
        if done.rc != 0:
            raise ModuleFailed("Failed to install new cronfile: (standard input)",
                               stderr=done.stderr, stdout=done.stdout, rc=done.rc)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        plan = self.decide(params, read_declared(self, ctx, params))
        if plan.failed:
            return ModuleResult(failed=True, msg=plan.failed, data=plan.data)
        if plan.changed and not ctx.check_mode:
            self.act(ctx, plan)
        return ModuleResult(changed=plan.changed, data=plan.data, diff=plan.diff if ctx.diff else [])



MODULE = CronModule()
