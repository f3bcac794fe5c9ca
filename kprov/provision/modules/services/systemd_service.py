"""ansible.builtin.systemd_service (also ``systemd`` and ``service``): unit state and enablement.

One ``systemctl show`` (after ``daemon-reload`` when asked, in the same command) gives
ActiveState, UnitFileState, LoadState; the module decides, and one script applies
unmask / enable / start ... in the right order. Active means ActiveState active|activating
(as Ansible); enabled means what ``systemctl is-enabled`` accepts (enabled, static, ...).
When the unit is to be started, stopped or restarted and systemd reports its file changed
on disk (``NeedDaemonReload=yes``), ``daemon-reload`` runs first even if not asked: systemctl
would otherwise act on the stale definition (this keeps a host convergent after a run that
wrote a unit and failed before reloading; roles need not reload on every run to be safe).

In the module contract's steps: ``decide`` (pure: the show's output in, a frozen ``UnitPlan``
out) and ``act`` (the script). Two reads stay interleaved in ``run``: with daemon_reload/
daemon_reexec the show runs live after them in one command (it must see the reloaded units),
and a SysV script's start links are read only once the show says the unit is ``generated``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, read_declared

__all__ = ["MODULE", "SystemdServiceModule", "UnitPlan", "plan_unit"]

SPEC = {
    "name": Arg(aliases=("service", "unit")),
    "state": Arg(choices=("reloaded", "restarted", "started", "stopped", "running")),
    "enabled": Arg("bool"), "force": Arg("bool"), "masked": Arg("bool"),
    "daemon_reload": Arg("bool", default=False, aliases=("daemon-reload",)),
    "daemon_reexec": Arg("bool", default=False, aliases=("daemon-reexec",)),
    "scope": Arg(default="system", choices=("system", "user", "global")),
    "no_block": Arg("bool", default=False),
    # accepted for the generic ``service`` module, meaningless with systemd
    "arguments": Arg(aliases=("args",)), "pattern": Arg(), "runlevel": Arg(), "sleep": Arg("int"),
    "use": Arg(),
}

_ENABLED_STATES = {"enabled", "enabled-runtime", "static", "indirect", "generated", "alias", "transient"}
_NOT_DISABLEABLE = {"static", "indirect", "generated", "transient"}
# ansible-core counts these as not enabled (asked to enable, it enables: transient, or
# systemd's own reasons it cannot be sure of); asked to disable, it leaves them
_ENABLE_ANYWAY = {"enabled-runtime", "indirect", "alias"}
_ACTIVE_STATES = {"active", "activating", "reloading", "refreshing"}


def parse_show(text: str) -> dict[str, str]:
    status: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and key[0].isupper():
            status[key] = value
    return status


def plan_unit(status: Mapping[str, str], *, state: str | None, enabled: bool | None,
              masked: bool | None, is_enabled: str = "") -> list[str]:
    """The systemctl verbs (in order) that take a unit from ``status`` to what is wanted."""
    verbs: list[str] = []
    file_state = status.get("UnitFileState", "")
    is_masked = file_state.startswith("masked") or status.get("LoadState") == "masked"
    if masked is False and is_masked:
        verbs.append("unmask")
        is_masked = False
    if enabled is not None:
        said = is_enabled.rstrip()
        if said:  # `systemctl is-enabled -l`'s text, as ansible-core reads it
            now_enabled = said.split("\n", 1)[0] in _ENABLED_STATES and said not in _ENABLE_ANYWAY
        else:
            now_enabled = file_state in _ENABLED_STATES and file_state not in _ENABLE_ANYWAY
        if file_state == "generated" and "SysVEnabled" in status:
            # as `systemctl is-enabled` answers through systemd-sysv-install (and Ansible asks)
            now_enabled = status["SysVEnabled"] == "yes"
        if enabled and not now_enabled:
            verbs.append("enable")
        elif not enabled and now_enabled and file_state not in _NOT_DISABLEABLE:
            verbs.append("disable")
    if masked is True and not is_masked:
        verbs.append("mask")
    active = status.get("ActiveState", "") in _ACTIVE_STATES
    if state in ("started", "running") and not active:
        verbs.append("start")
    elif state == "stopped" and (active or status.get("ActiveState") == "deactivating"):
        verbs.append("stop")
    elif state == "restarted":
        verbs.append("restart")
    elif state == "reloaded":
        verbs.append("reload" if active else "start")
    return verbs


def _systemctl(p: Mapping[str, Any]) -> str:
    return "systemctl" if p["scope"] == "system" else f"systemctl --{p['scope']}"


def _show(p: Mapping[str, Any]) -> str:
    return f"{_systemctl(p)} show {shlex.quote(p['name'])}"


def _is_enabled(p: Mapping[str, Any]) -> str:
    """What ``systemctl is-enabled -l`` prints, which ansible-core decides enablement from (an
    indirect unit with installed links is listed with them, and counts as enabled): read only
    for a unit whose UnitFileState ansible-core may not count as enabled."""
    return f"{_systemctl(p)} is-enabled -l {shlex.quote(p['name'])} 2>/dev/null || true"


@dataclass(frozen=True)
class UnitPlan:
    """What the task decided for the unit: the systemctl ``commands`` (from ``verbs``; none:
    nothing to do), a unit not on the host (``missing``), or a probe to read first (``reads``)."""

    changed: bool = False
    msg: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)
    verbs: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    missing: bool = False
    reads: str | None = None


class SystemdServiceModule(ModuleBase):
    name = "systemd_service"
    spec = SPEC

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        """The unit's ``systemctl show``, unless a daemon-reload/-reexec comes first (that acts;
        the show then runs in the same command)."""
        reloads = (params["daemon_reload"] or params["daemon_reexec"]) and not view.check_mode
        return [_show(params)] if params["name"] and not reloads else []

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> UnitPlan:
        """The unit's plan from its ``systemctl show`` (the first of ``observed``) and, for a SysV
        script's enablement, its start links' probe: a plan naming that probe (``reads``) when
        it is not among them yet."""
        p = params
        unit = p["name"]
        systemctl = _systemctl(p)
        q_unit = shlex.quote(unit)
        query = next(iter(observed.values()))
        if query.rc != 0:
            raise ModuleFailed(f"systemd_service: {unit}: {query.stderr.strip() or query.stdout.strip()}")
        status = parse_show(query.stdout)
        is_enabled = ""
        if status.get("UnitFileState") in _ENABLE_ANYWAY and p["enabled"] is not None:
            if _is_enabled(p) not in observed:
                return UnitPlan(reads=_is_enabled(p))
            is_enabled = observed[_is_enabled(p)].stdout
        if status.get("UnitFileState") == "generated" and p["enabled"] is not None:
            # a SysV script: enabled when it has start links (what systemd-sysv-install answers)
            script = shlex.quote(unit.removesuffix(".service"))
            links_probe = f"ls /etc/rc[S2345].d/S??{script} >/dev/null 2>&1 && echo yes || echo no"
            if links_probe not in observed:
                return UnitPlan(reads=links_probe)
            status["SysVEnabled"] = observed[links_probe].stdout.strip()
        if status.get("LoadState") == "not-found" and not (p["masked"] and p["state"] is None):
            # in a check-mode run, the package or unit file an earlier task installs was not
            # installed: starting it is the change that run would make (else the task fails:
            # ``missing``)
            wanted = [w for w in (p["state"], "enabled" if p["enabled"] else None) if w]
            return UnitPlan(changed=True, missing=True,
                            msg=f"would make {unit} {' and '.join(wanted) or 'known'} (not on the host yet)",
                            data={"name": unit, "status": status})
        verbs = plan_unit(status, state=p["state"], enabled=p["enabled"], masked=p["masked"],
                          is_enabled=is_enabled)
        before = {"state": status.get("ActiveState", ""), "enabled": status.get("UnitFileState", "")}
        after = dict(before)
        for verb in verbs:
            if verb in ("start", "restart", "reload"):
                after["state"] = "active"
            elif verb == "stop":
                after["state"] = "inactive"
            elif verb in ("enable", "disable", "mask"):
                after["enabled"] = {"enable": "enabled", "disable": "disabled", "mask": "masked"}[verb]
            elif verb == "unmask":
                after["enabled"] = "disabled"
        data: dict[str, Any] = {"name": unit, "status": status}
        if p["state"] is not None:
            data["state"] = "started" if p["state"] == "running" else p["state"]
        if p["enabled"] is not None:
            data["enabled"] = p["enabled"]
        no_block = " --no-block" if p["no_block"] else ""
        commands = [f"{systemctl}{no_block} {verb} {q_unit}" for verb in verbs]
        if commands and status.get("NeedDaemonReload") == "yes" and not p["daemon_reload"]:
            commands.insert(0, f"{systemctl} daemon-reload")
        diff = [{"before": {"unit": unit, **before}, "after": {"unit": unit, **after}}] if verbs else []
        return UnitPlan(changed=bool(verbs), data=data, diff=diff, verbs=verbs, commands=commands)

    def act(self, ctx: ModuleContext, plan: UnitPlan) -> None:
        """The plan's systemctl commands as one script."""
        done = ctx.run(" && ".join(plan.commands))
        if done.rc != 0:
            unit = plan.data["name"]
            raise ModuleFailed(f"Unable to {' / '.join(plan.verbs)} service {unit}: {done.stderr.strip()}",
                               name=unit, status=plan.data["status"])

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        """A daemon-reload/-reexec acts before the unit is read (the show then runs in the same
        command, live); otherwise the declared show is read. Then decide, then act."""
        p = self.params(args)
        unit = p["name"]
        systemctl = _systemctl(p)
        if not unit:
            if (p["state"], p["enabled"], p["masked"]) != (None, None, None):
                raise ModuleFailed("systemd_service: argument 'name' is required with state/enabled/masked")
            if not (p["daemon_reload"] or p["daemon_reexec"]):
                raise ModuleFailed("systemd_service: give 'name' or daemon_reload/daemon_reexec")
        prefix = []
        if p["daemon_reexec"] and not ctx.check_mode:
            prefix.append(f"{systemctl} daemon-reexec")
        if p["daemon_reload"] and not ctx.check_mode:
            prefix.append(f"{systemctl} daemon-reload")
        if not unit:
            done = ctx.run(" && ".join(prefix) or "true")
            if done.rc != 0:
                raise ModuleFailed(f"systemd_service: daemon-reload failed: {done.stderr.strip()}")
            return ModuleResult(changed=False, data={"name": None})
        show = _show(p)
        # daemon-reload/-reexec first acts; the plain query only reads
        observed = {show: ctx.run(" && ".join([*prefix, show]))} if prefix else read_declared(self, ctx, p)
        plan = self.decide(p, observed)
        if plan.reads is not None:
            plan = self.decide(p, {**observed, plan.reads: ctx.probe(plan.reads)})
        # a unit not on the host fails, as ansible-core's module fails, also for a task in check
        # mode; only in a run that is all check mode (kprov plan) is it the change an earlier
        # task's install would make
        if plan.missing and not ctx.check_run:
            raise ModuleFailed(f"Could not find the requested service {unit}: host")
        result = ModuleResult(changed=plan.changed, msg=plan.msg, data=dict(plan.data),
                              diff=list(plan.diff) if ctx.diff else [])
        if plan.commands and not ctx.check_mode:
            self.act(ctx, plan)
        return result


MODULE = SystemdServiceModule()
