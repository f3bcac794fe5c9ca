"""ansible.builtin.apt (and ``package``): Debian packages present / absent / latest.

One command per no-op task: (``apt-get update`` when ``update_cache`` and the cache is older
than ``cache_valid_time``, decided on the host) + one ``dpkg-query`` for every requested
package (+ ``apt-cache policy`` for ``latest``). With a ``cache_valid_time`` the cache's age
is read ahead beside the packages (``CACHE_AGE_PROBE``), so a host whose index is younger
sends nothing; an older one, or an emptied one (no Packages index: never updated, where
ansible-core trusts the lists directory's new mtime), is updated first (as ansible-core, a
``cache_valid_time`` alone implies ``update_cache``, and the update alone never makes a task
that names packages changed). The module compares, and one ``apt-get`` acts on the difference only. ``deb``
installs a .deb already on the host (or downloads a URL there). No python3-apt is needed on
hosts. With ``async`` the ``apt-get`` runs as a host-side job (``detach``; execute.async_jobs).
In the module contract's steps: ``decide`` (pure) gives a frozen ``AptPlan``, ``act`` runs
its apt-get command.
"""

from __future__ import annotations

import fnmatch
import functools
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.commands.detached import Detached
from kprov.provision.modules.contract import ModuleBase, read_declared

__all__ = ["APT_LISTS", "CACHE_AGE_PROBE", "MODULE", "UPDATE_STAMP", "AptModule", "AptPlan", "PackageInfo",
           "cache_fresh", "cache_time_script", "parse_query", "plan_packages", "wants_update"]

SPEC = {
    "name": Arg("list", aliases=("package", "pkg")),
    "state": Arg(default="present", choices=("absent", "build-dep", "latest", "present", "fixed",
                                              "installed", "removed")),
    "update_cache": Arg("bool", aliases=("update-cache",)), "cache_valid_time": Arg("int", default=0),
    "deb": Arg(), "purge": Arg("bool", default=False), "autoremove": Arg("bool", default=False),
    "autoclean": Arg("bool", default=False), "clean": Arg("bool", default=False),
    "install_recommends": Arg("bool", aliases=("install-recommends",)),
    "force": Arg("bool", default=False), "default_release": Arg(aliases=("default-release",)),
    "allow_downgrade": Arg("bool", default=False, aliases=("allow-downgrade", "allow_downgrades")),
    "allow_unauthenticated": Arg("bool", default=False, aliases=("allow-unauthenticated",)),
    "allow_change_held_packages": Arg("bool", default=False),
    "dpkg_options": Arg(default="force-confdef,force-confold"), "lock_timeout": Arg("int", default=60),
    "only_upgrade": Arg("bool", default=False), "upgrade": Arg(default="no"), "policy_rc_d": Arg("int"),
    "force_apt_get": Arg("bool", default=False), "fail_on_autoremove": Arg("bool", default=False),
    "update_cache_retries": Arg("int", default=5), "update_cache_retry_max_delay": Arg("int", default=12),
    "use": Arg(),
}


@dataclass(frozen=True)
class PackageInfo:
    name: str
    installed_version: str | None = None
    config_files_only: bool = False
    candidate: str | None = None


# what the package probe prints for each package dpkg knows (PKG:<name> <status> <version>)
PACKAGE_FORMAT = "PKG:${Package}\\t${db:Status-Abbrev}\\t${Version}\\n"


APT_LISTS = "/var/lib/apt/lists"
UPDATE_STAMP = "/var/lib/apt/periodic/update-success-stamp"


def cache_time_script(lists: str = APT_LISTS, stamp: str = UPDATE_STAMP) -> str:
    """Shell that sets ``m`` to the index's cache time: ansible-core's (the update-success
    stamp's mtime, else the lists directory's), except that a lists directory holding no
    ``*_Packages`` index counts as never updated (0). ``rm -rf /var/lib/apt/lists/*`` makes
    the directory's mtime new, and ansible-core then keeps the empty index as fresh
    (ansible/ansible#79206), so the install after it fails."""
    return (f"s={shlex.quote(stamp)}; [ -e $s ] || s={shlex.quote(lists)}; "
            "m=$(stat -c %Y $s 2>/dev/null || echo 0); "
            f"ls -d {shlex.quote(lists)}/*_Packages* >/dev/null 2>&1 || m=0")


# The index's age, read without updating it (cache_time_script) and the host's clock.
CACHE_AGE_PROBE = cache_time_script() + "; echo CACHE:$m; echo NOW:$(date +%s)"


def wants_update(p: Mapping[str, Any]) -> bool:
    """Whether the task refreshes an index older than ``cache_valid_time``: ``update_cache``,
    or a ``cache_valid_time`` alone (ansible-core: ``p['update_cache'] or p['cache_valid_time']``)."""
    return bool(p["update_cache"]) or p["cache_valid_time"] > 0


def cache_fresh(result: CommandResult, valid_time: int) -> tuple[bool, int]:
    """From ``CACHE_AGE_PROBE``'s output: whether the index is young enough to keep (ansible-core
    updates unless cache time + ``valid_time`` >= now) and its cache time. Unreadable: old."""
    fields = {}
    for line in result.stdout.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    cache, now = fields.get("CACHE", ""), fields.get("NOW", "")
    if result.rc != 0 or not cache.isdigit() or not now.isdigit():
        return False, 0
    return int(now) - int(cache) <= valid_time, int(cache)


def package_query(names: list[str]) -> str:
    """The read-only probe of ``names``' states (no cache check, no candidates)."""
    return _query_script(names, latest=False, update=False, valid_time=0, lock_timeout=0)


def _query_script(names: list[str], *, latest: bool, update: bool, valid_time: int, lock_timeout: int,
                  lists: str = APT_LISTS, stamp: str = UPDATE_STAMP) -> str:
    quoted = " ".join(shlex.quote(n) for n in names)
    lines = []
    if update:
        lines.append("now=$(date +%s)")
        lines.append(cache_time_script(lists, stamp))
        lines.append(
            f"if [ {valid_time} -le 0 ] || [ $((now - m)) -gt {valid_time} ]; then "
            f"apt-get -q -o DPkg::Lock::Timeout={lock_timeout} update >/tmp/.kprov-apt-update.log 2>&1 "
            "|| { cat /tmp/.kprov-apt-update.log >&2; exit 100; }; echo UPDATED:1; m=$(date +%s); fi")
        lines.append("echo CACHE:$m")
    if names:
        lines.append(f"dpkg-query -W -f='{PACKAGE_FORMAT}' {quoted} 2>/dev/null")
        if latest:
            lines.append(f"LC_ALL=C apt-cache policy {quoted} 2>/dev/null | "
                         "awk '/^[^ ]/{p=$1; sub(/:$/,\"\",p)} /Candidate:/{print \"POL:\" p \"\\t\" $2}'")
    lines.append("true")
    return "\n".join(lines)


def parse_query(text: str) -> tuple[dict[str, PackageInfo], bool, int]:
    """Packages seen, whether the cache was updated, the cache time."""
    packages: dict[str, PackageInfo] = {}
    candidates: dict[str, str] = {}
    updated, cache_time = False, 0
    for line in text.splitlines():
        if line.startswith("PKG:"):
            parts = line[4:].split("\t") + ["", ""]
            name, status, version = parts[0], parts[1].strip(), parts[2]
            installed = len(status) >= 2 and status[1] in "iWt"
            packages[name] = PackageInfo(name, version if installed else None,
                                         config_files_only=len(status) >= 2 and status[1] == "c")
        elif line.startswith("POL:"):
            name, _, candidate = line[4:].partition("\t")
            candidates[name] = candidate.strip()
        elif line.startswith("UPDATED:"):
            updated = True
        elif line.startswith("CACHE:") and line[6:].strip().isdigit():
            cache_time = int(line[6:].strip())
    for name, candidate in candidates.items():
        current = packages.get(name, PackageInfo(name))
        packages[name] = PackageInfo(name, current.installed_version, current.config_files_only,
                                     None if candidate in ("(none)", "") else candidate)
    return packages, updated, cache_time


def _split_spec(spec: str) -> tuple[str, str | None]:
    name, sep, version = spec.partition("=")
    return name, (version if sep else None)


def plan_packages(specs: list[str], packages: Mapping[str, PackageInfo], state: str,
                  purge: bool = False) -> list[str]:
    """The specs apt-get must act on: to install/upgrade (present/latest) or remove (absent)."""
    todo = []
    for spec in specs:
        name, version = _split_spec(spec)
        info = packages.get(name.split(":")[0], PackageInfo(name))
        if state == "absent":
            if info.installed_version is not None or (purge and info.config_files_only):
                todo.append(name)
        elif state == "latest":
            outdated = info.candidate is not None and info.candidate != info.installed_version
            if info.installed_version is None or outdated:
                todo.append(spec)
        elif info.installed_version is None or (
                version is not None and not fnmatch.fnmatchcase(info.installed_version, version)):
            todo.append(spec)
    return todo


def _state(p: Mapping[str, Any]) -> str:
    return {"installed": "present", "removed": "absent"}.get(p["state"], p["state"])


def _state_script(p: Mapping[str, Any], specs: list[str], update: bool) -> str:
    names = [_split_spec(s)[0].split(":")[0] for s in specs]
    return _query_script(names, latest=_state(p) == "latest", update=update,
                         valid_time=p["cache_valid_time"], lock_timeout=p["lock_timeout"])


def _deb_probe(deb: str) -> str:
    return f"dpkg-deb -f {shlex.quote(deb)} Package Version"


@dataclass(frozen=True)
class AptPlan:
    """The ``command`` apt-get runs (empty: nothing to do; ``msg`` says what in check mode), a
    ``cleanup`` (autoclean/autoremove) alone, or the specs whose states are to be read first."""

    changed: bool = False
    command: str = ""
    msg: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)
    cleanup: str = ""
    query_specs: list[str] | None = None


class AptModule(ModuleBase):
    name = "apt"
    spec = SPEC

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        p = parse_args(self.name, SPEC, args)
        state = _state(p)
        if state in ("build-dep", "fixed"):
            raise ModuleFailed(f"apt: state={state} is not supported by kprov")
        if p["upgrade"] not in ("no", False, "false", "False"):
            raise ModuleFailed("apt: argument 'upgrade' (dist/full upgrades) is not supported by kprov")
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        """A .deb's identity when ``deb`` is given (the packages' states follow from it); else
        the packages' states, unless the cache is to be updated first (that acts)."""
        if params["deb"]:
            return [] if "://" in params["deb"] else [_deb_probe(params["deb"])]
        specs = [str(s) for s in (params["name"] or [])]
        update = wants_update(params)
        if not specs and not update:
            return []
        if update and not view.check_mode:
            # with a cache_valid_time the index's age is read ahead beside the packages (a
            # converged host pays no round trip); without one the update always runs (it acts)
            if params["cache_valid_time"] > 0 and specs:
                return [_state_script(params, specs, update=False), CACHE_AGE_PROBE]
            return []
        return [_state_script(params, specs, update=False)]

    @staticmethod
    def _cleanup(ctx: ModuleContext, operation: str, p: Mapping[str, Any]) -> ModuleResult:
        """``apt-get autoremove|autoclean`` alone (no package named), as ansible-core runs it:
        simulated in check mode; changed when apt-get says it removes/deletes something."""
        options = " ".join(f"-o Dpkg::Options::=--{opt.strip()}"
                           for opt in p["dpkg_options"].split(",") if opt.strip())
        purge = " --purge" if p["purge"] else ""
        simulate = " --simulate" if ctx.check_mode else ""
        done = ctx.run(f"DEBIAN_FRONTEND=noninteractive apt-get -y {options}{purge} {operation}{simulate}")
        if done.rc != 0:
            raise ModuleFailed(f"'apt-get {operation}' failed: {done.stderr}", rc=done.rc,
                               stdout=done.stdout, stderr=done.stderr)
        marker = "The following packages will be REMOVED" if operation == "autoremove" else "Del "
        return ModuleResult(changed=marker in done.stdout,
                            data={"stdout": done.stdout, "stderr": done.stderr})

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> AptPlan:
        """The apt-get command (if any) from the probes read: a .deb's identity, then the
        packages' states (a plan naming ``query_specs`` while those are not read yet), or the
        cleanup to run when no package is named."""
        p = params
        state = _state(p)
        specs = [str(s) for s in (p["name"] or [])]
        deb_name = None
        if p["deb"]:
            deb_name, deb_version = _deb_identity(p["deb"], observed)
            specs = [f"{deb_name}={deb_version}"]
        if not specs and not wants_update(p):
            for operation in ("autoclean", "autoremove"):  # ansible-core's order; the first exits
                if p[operation]:
                    return AptPlan(cleanup=operation)
            if p["name"] is not None:  # an empty list names nothing to do: ok, as Ansible's
                return AptPlan()
            raise ModuleFailed("apt: give 'name', 'deb' or 'update_cache'")
        query, kept_time = observed.get(_state_script(p, specs, True)), None
        if query is None:
            query = observed.get(_state_script(p, specs, False))
            age = observed.get(CACHE_AGE_PROBE)
            if query is not None and age is not None:  # read ahead: update only an old index
                fresh, kept_time = cache_fresh(age, p["cache_valid_time"])
                if not fresh:
                    return AptPlan(query_specs=specs)
        if query is None:
            return AptPlan(query_specs=specs)
        if query.rc != 0:
            raise ModuleFailed(f"apt: Failed to update apt cache: {query.stderr.strip()}"
                               if query.rc == 100 else f"apt: query failed: {query.stderr.strip()}")
        packages, updated, cache_time = parse_query(query.stdout)
        data: dict[str, Any] = {"cache_updated": updated,
                                "cache_update_time": cache_time if kept_time is None else kept_time}
        if not specs:
            return AptPlan(changed=updated, data=data)
        todo = plan_packages(specs, packages, state, purge=p["purge"])
        if not todo:
            return AptPlan(data=data)
        names = [_split_spec(s)[0].split(":")[0] for s in specs]
        verb = "removed" if state == "absent" else "installed"
        before = {n: packages.get(n, PackageInfo(n)).installed_version for n in names}
        diff = [{"before": {"packages": before}, "after": {verb: todo}}]
        return AptPlan(changed=True, data=data, diff=diff,
                       msg=f"would {'remove' if state == 'absent' else 'install'}: {' '.join(todo)}",
                       command=self._apt_command(p, state, todo if deb_name is None else [p["deb"]]))

    def detach(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult | Detached:
        """Read the host and decide; the install/remove command is the work (``run`` runs it
        now, an ``async`` task as a host-side job). The packages' states are read after a
        .deb's identity (they are its package's), and with update_cache the same command
        updates the cache first (that acts, so it is sent, not read from the probe cache)."""
        p = self.params(args)
        observed = read_declared(self, ctx, p)
        plan = self.decide(p, observed)
        if plan.query_specs is not None:
            update = wants_update(p) and not ctx.check_mode
            script = _state_script(p, plan.query_specs, update)
            query = ctx.run(script) if update else ctx.probe(script)  # an update acts; a query reads
            plan = self.decide(p, {**observed, script: query})
        if plan.cleanup:
            return self._cleanup(ctx, plan.cleanup, p)
        result = ModuleResult(changed=plan.changed, data=dict(plan.data),
                              diff=list(plan.diff) if ctx.diff else [])
        if not plan.command:
            return result
        if ctx.check_mode:
            result.msg = plan.msg
            return result
        return Detached(plan.command, functools.partial(_finished, plan.command, result))

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        work = self.detach(ctx, args)
        if isinstance(work, ModuleResult):
            return work
        return self.act(ctx, work)

    @staticmethod
    def act(ctx: ModuleContext, work: Detached) -> ModuleResult:
        """The decided apt-get command, run now."""
        return work.finish(ctx.run(work.script, timeout=1800))

    @staticmethod
    def _apt_command(p: Mapping[str, Any], state: str, targets: list[str]) -> str:
        options = [f"-o DPkg::Lock::Timeout={p['lock_timeout']}"]
        dpkg_options = [opt.strip() for opt in p["dpkg_options"].split(",") if opt.strip()]
        options += [f"-o Dpkg::Options::=--{opt}" for opt in dpkg_options]
        if p["install_recommends"] is False:
            options.append("--no-install-recommends")
        elif p["install_recommends"] is True:
            options.append("--install-recommends")
        if p["default_release"]:
            options.append(f"-t {shlex.quote(p['default_release'])}")
        if p["allow_downgrade"]:
            options.append("--allow-downgrades")
        if p["allow_unauthenticated"] or p["force"]:
            options.append("--allow-unauthenticated")
        if p["allow_change_held_packages"]:
            options.append("--allow-change-held-packages")
        if p["only_upgrade"]:
            options.append("--only-upgrade")
        quoted = " ".join(shlex.quote(t) for t in targets)
        base = "DEBIAN_FRONTEND=noninteractive apt-get -y -q"
        if state == "absent":
            verb = "remove --purge" if p["purge"] else "remove"
            extra = " --autoremove" if p["autoremove"] else ""
            return f"{base} {options[0]} {verb}{extra} {quoted}"
        return f"{base} {' '.join(options)} install {quoted}"


def _deb_identity(deb: str, observed: Mapping[str, CommandResult]) -> tuple[str, str]:
    """A .deb's package name and version, from its declared probe."""
    if "://" in deb:
        raise ModuleFailed("apt: 'deb' URLs are not supported; get_url the file, then give its path")
    info = observed[_deb_probe(deb)]
    if info.rc != 0:
        raise ModuleFailed(f"apt: cannot read {deb}: {info.stderr.strip()}")
    fields = dict(line.split(": ", 1) for line in info.stdout.splitlines() if ": " in line)
    return fields.get("Package", ""), fields.get("Version", "")


def _finished(command: str, result: ModuleResult, done: CommandResult) -> ModuleResult:
    """The module's result once its apt-get command has run."""
    result.data.update(stdout=done.stdout, stderr=done.stderr, stdout_lines=done.stdout.splitlines(),
                       stderr_lines=done.stderr.splitlines(), rc=done.rc)
    if done.rc != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-3:]
        raise ModuleFailed(f"apt: '{command.split(' && ')[-1]}' failed: {' '.join(tail)}", **result.data)
    return result


MODULE = AptModule()

