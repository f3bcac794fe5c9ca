"""ansible.builtin.user: a local account present with the wanted attributes, or absent.

One command reads ``getent passwd`` and the user's groups; useradd / usermod / userdel act
on the difference only. ``password`` is an already-hashed string, as in Ansible. In the
module contract's steps: ``decide`` (pure) gives a frozen ``UserPlan``, ``act`` runs its
command and, for a present user, reads the account again (the values it returns).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, decide_then_act
from kprov.provision.modules.system.user_sshkey import keygen_script, parse_outcome

__all__ = ["MODULE", "UserModule", "UserPlan", "query_script"]

SPEC = {
    "name": Arg(required=True, aliases=("user",)),
    "state": Arg(default="present", choices=("present", "absent")),
    "uid": Arg("int"),
    "group": Arg(),
    "groups": Arg("list"),
    "append": Arg("bool", default=False),
    "home": Arg(),
    "shell": Arg(),
    "comment": Arg(),
    "system": Arg("bool", default=False),
    "create_home": Arg("bool", default=True, aliases=("createhome",)),
    "move_home": Arg("bool", default=False),
    "password": Arg(),
    "update_password": Arg(default="always", choices=("always", "on_create")),
    "remove": Arg("bool", default=False),
    "force": Arg("bool", default=False),  # with generate_ssh_key: overwrite an existing key
    "non_unique": Arg("bool", default=False),
    "expires": Arg("float"),
    "password_lock": Arg("bool"),
    "local": Arg("bool", default=False),
    "generate_ssh_key": Arg("bool", default=False),
    # the key's settings (modules.system.user_sshkey): read only with generate_ssh_key
    "ssh_key_bits": Arg("int"),
    "ssh_key_type": Arg(default="rsa"),
    "ssh_key_file": Arg(),
    "ssh_key_comment": Arg(),
    "ssh_key_passphrase": Arg(),
    "skeleton": Arg(),
    "umask": Arg(),
}


def query_script(name: str) -> str:
    """The user's passwd line, group names (``id -Gn``: the primary group first) and password
    hash, in three processes (a temporary file, cat, a second id, cut and rm made it eight:
    9 ms of a lab host's CPU, 4 with these)."""
    q = shlex.quote(name)
    return (
        f"if pw=$(getent passwd {q}); then printf 'PW:%s\\n' \"$pw\"; printf 'GROUPS:'; id -Gn {q}; "
        f"s=$(getent shadow {q}); s=${{s#*:}}; printf 'SHADOW:%s\\n' \"${{s%%:*}}\"; fi; true"
    )


@dataclass(frozen=True)
class UserPlan:
    """The one useradd/usermod/userdel ``command`` (empty: nothing to do) and what it reports."""

    changed: bool = False
    command: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)
    reread: bool = False  # read the account again after acting (state=present)


class UserModule(ModuleBase):
    name = "user"
    spec = SPEC

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [query_script(params["name"])]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> UserPlan:
        p = dict(params)
        name = p["name"]
        q = shlex.quote(name)
        (query,) = observed.values()
        fields = {k: v for k, _, v in (line.partition(":") for line in query.stdout.splitlines())}
        exists = "PW" in fields
        pw = fields.get("PW", "").split(":")
        groups = fields.get("GROUPS", "").split()  # id -Gn: the primary group first
        current: dict[str, Any] = {}
        if exists and len(pw) >= 7:
            current = {
                "uid": int(pw[2]),
                "comment": pw[4],
                "home": pw[5],
                "shell": pw[6],
                "group": groups[0] if groups else "",
                "groups": groups,
                "password": fields.get("SHADOW", "").strip(),
            }
        command = ""
        if p["state"] == "absent":
            if exists:
                command = f"userdel {'-r ' if p['remove'] else ''}{'-f ' if p['force'] else ''}{q}"
        else:
            opts = self._options(p, current if exists else None)
            if not exists:
                extra = ["-r"] if p["system"] else []
                extra += (
                    ["-m"]
                    if p["create_home"] and not p["system"]
                    else (["-M"] if not p["create_home"] else [])
                )
                command = " ".join(["useradd", *extra, *opts, q])
            elif opts:
                command = " ".join(["usermod", *opts, q])
        data: dict[str, Any] = {"name": name, "state": p["state"]}
        if exists:
            data.update({k: v for k, v in current.items() if k != "password"})
        diff = [
            {
                "before": {"user": name, "state": "present" if exists else "absent"},
                "after": {"user": name, "state": p["state"], "command": command.split()[0]},
            }
        ] if command else []
        return UserPlan(changed=bool(command), command=command, data=data, diff=diff,
                        reread=p["state"] == "present")

    def act(self, ctx: ModuleContext, plan: UserPlan) -> dict[str, Any]:
        """Run the command; a present user is read again (live) for the values it now has."""
        name = plan.data["name"]
        done = ctx.run(plan.command)
        if done.rc != 0:
            raise ModuleFailed(
                f"user: {plan.command.split()[0]} {name} failed: {done.stderr.strip()}", name=name, rc=done.rc
            )
        if not plan.reread:
            return {}
        after = ctx.probe(query_script(name))
        pw_after = next((line[3:] for line in after.stdout.splitlines() if line.startswith("PW:")), "")
        parts = pw_after.split(":")
        if len(parts) >= 7:
            return {"uid": int(parts[2]), "home": parts[5], "shell": parts[6], "comment": parts[4]}
        return {}

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        result = decide_then_act(self, ctx, args)
        params = self.params(args)
        if result.failed or params["state"] != "present" or not params["generate_ssh_key"]:
            return result
        return self._ssh_key(ctx, params, result)

    @staticmethod
    def _ssh_key(ctx: ModuleContext, params: Mapping[str, Any], result: ModuleResult) -> ModuleResult:
        """generate_ssh_key (modules.system.user_sshkey): read what is there; make the key only
        when it is missing (or ``force``), outside check mode."""
        passphrase = params.get("ssh_key_passphrase")
        stdin = (passphrase or "").encode() + b"\n"
        done = ctx.read(keygen_script(params, dry=True))
        outcome = parse_outcome(done.stdout) if done.rc == 0 else None
        if done.rc == 0 and outcome is not None and outcome.changed and not ctx.check_mode:
            done = ctx.run(keygen_script(params, dry=False), stdin=stdin)
            outcome = parse_outcome(done.stdout) if done.rc == 0 else None
        if done.rc != 0:
            return ModuleResult(failed=True, msg=done.stderr.strip(),
                                data={**result.data, "name": params["name"], "rc": done.rc})
        if outcome is None:  # no such user (check mode, not created yet): no key, as Ansible
            return result
        data = {**result.data, **outcome.data}
        if outcome.warnings:
            data["warnings"] = [*data.get("warnings", []), *outcome.warnings]
        return ModuleResult(changed=result.changed or outcome.changed, msg=result.msg, diff=result.diff,
                            data=data)

    @staticmethod
    def _options(p: Mapping[str, Any], current: dict[str, Any] | None) -> list[str]:
        opts: list[str] = []

        def differs(key: str) -> bool:
            return p[key] is not None and (current is None or current.get(key) != p[key])

        if differs("uid"):
            opts.append(f"-u {p['uid']}" + (" -o" if p["non_unique"] else ""))
        if differs("group"):
            opts.append(f"-g {shlex.quote(p['group'])}")
        if differs("home"):
            opts.append(
                f"-d {shlex.quote(p['home'])}" + (" -m" if current is not None and p["move_home"] else "")
            )
        if differs("shell"):
            opts.append(f"-s {shlex.quote(p['shell'])}")
        if differs("comment"):
            opts.append(f"-c {shlex.quote(p['comment'])}")
        if p["password"] is not None and (
            current is None or (p["update_password"] == "always" and current.get("password") != p["password"])
        ):
            opts.append(f"-p {shlex.quote(p['password'])}")
        if p["groups"] is not None:
            wanted = [g for g in p["groups"] if g]
            have = set(current.get("groups", [])) - {current.get("group")} if current else set()
            if p["append"]:
                missing = [g for g in wanted if g not in have]
                if missing:
                    opts.append(
                        f"-a -G {shlex.quote(','.join(missing))}"
                        if current
                        else f"-G {shlex.quote(','.join(wanted))}"
                    )
            elif set(wanted) != have:
                opts.append(f"-G {shlex.quote(','.join(wanted))}")
        return opts


MODULE = UserModule()
