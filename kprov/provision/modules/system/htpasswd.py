"""community.general.htpasswd: one user's entry in an htpasswd file (basic authentication).

Three steps (modules.contract). ``probes`` reads the file and the identity new files get
(user, group, umask). ``decide`` runs on the operator's machine with passlib (the library
the Ansible module uses, here through its maintained fork ``libpass``, which imports as
``passlib`` and works with current ``bcrypt``): it checks the password against the stored
hash, sets or deletes the entry and plans the file's new text, exactly as the module's
``HtpasswdFile`` writes it (blank lines dropped first, as the module does, comments kept).
``act`` writes the text through the shell's redirection (the file keeps its inode, owner and
mode) and applies owner/group/mode.

The password never leaves the operator's machine: only its hash reaches the host, on the
standard input of ``cat`` — never in a command line — and the task's result and diff hold
no hash (the module has no diff mode). Salts are random, so a plan that sets a password
differs between runs; an unchanged password is verified against the stored hash and changes
nothing (the scheme of an existing entry is not compared, as in the module).
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import FILE_ATTRS, Arg
from kprov.provision.modules.base import ModuleContext, ModuleResult, TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule, read_declared
from kprov.provision.modules.files.fileops import (
    FileState,
    attribute_commands,
    parse_probe,
    probe_script,
    resolve_mode,
)

__all__ = ["MODULE", "HtpasswdModule"]

APACHE_HASHES = ("apr_md5_crypt", "des_crypt", "ldap_sha1", "plaintext")
_ATTRS_MSG = "ownership, perms or SE linux context changed"
_IDENTITY = "id -un; id -gn; umask"


def _context(scheme: str) -> Any:
    from passlib.apache import htpasswd_context
    from passlib.context import CryptContext

    return htpasswd_context if scheme in APACHE_HASHES else CryptContext(schemes=[scheme, *APACHE_HASHES])


def _new_file_state(path: str, identity: str) -> FileState:
    """What a file created now would look like: the probing user's owner/group and umask."""
    user, group, umask = ([*identity.split(), "", "", "0022"])[:3]
    try:
        mode = 0o666 & ~int(umask, 8)
    except ValueError:
        mode = 0o644
    return FileState(path=path, exists=True, kind="file", mode=mode, owner=user, group=group)


class HtpasswdModule(ThreeStepModule):
    name = "htpasswd"
    spec = {
        "path": Arg(required=True, aliases=("dest", "destfile")),
        "name": Arg(required=True, aliases=("username",)),
        "password": Arg(),
        "hash_scheme": Arg(default="apr_md5_crypt", aliases=("crypt_scheme",)),
        "state": Arg(default="present", choices=("present", "absent")),
        "create": Arg("bool", default=True),
        **FILE_ATTRS,
    }

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [probe_script(params["path"], content=True, follow=True), _IDENTITY]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        """The plan; ``data['check_msg']`` is the message check mode reports instead."""
        from passlib.apache import HtpasswdFile

        path, user, state = params["path"], params["name"], params["state"]
        file_probe, identity = observed.values()
        found = parse_probe(path, file_probe.stdout)
        plan = Plan(data={})
        lines = (found.data or b"").splitlines(keepends=True) if found.exists else []
        kept = b"".join(line for line in lines if line.strip())
        stripped = len(kept) != sum(len(line) for line in lines)
        try:
            if state == "absent":
                if not found.exists:
                    plan.msg = f"{user} not present"
                    plan.data["warnings"] = [f"{path} does not exist"]
                    return plan
                ht = HtpasswdFile.from_string(kept)
                if user in ht.users():
                    ht.delete(user)
                    plan.changed, plan.msg = True, f"Remove {user}"
                else:
                    plan.msg = f"{user} not present"
            elif not found.exists:
                if not params["create"]:
                    return Plan(failed=f"Destination {path} does not exist")
                ht = HtpasswdFile(new=True, default_scheme=params["hash_scheme"],
                                  context=_context(params["hash_scheme"]))
                ht.set_password(user, params["password"])
                plan.changed, plan.msg = True, f"Created {path} and added {user}"
                plan.data["check_msg"] = f"Create {path}"
                directory = posixpath.dirname(path)
                if directory:
                    plan.commands.append(f"mkdir -p -- {shlex.quote(directory)}")
            else:
                ht = HtpasswdFile.from_string(kept, default_scheme=params["hash_scheme"],
                                              context=_context(params["hash_scheme"]))
                if ht.check_password(user, params["password"]):
                    plan.msg = f"{user} already present"
                else:
                    ht.set_password(user, params["password"])
                    plan.changed, plan.msg = True, f"Add/update {user}"
        except Exception as exc:  # noqa: BLE001 - the module reports any library error as its message
            return Plan(failed=str(exc))
        if plan.changed or stripped:
            plan.files = {path: ht.to_string().decode("utf-8", "surrogateescape")}
        self._attributes(params, found if found.exists else _new_file_state(path, identity.stdout), plan)
        return plan

    @staticmethod
    def _attributes(params: Mapping[str, Any], state: FileState, plan: Plan) -> None:
        mode = None if params["mode"] is None else resolve_mode(params["mode"], state.mode, module="htpasswd")
        commands = attribute_commands(state, owner=params["owner"], group=params["group"], mode=mode)
        if not commands:
            return
        plan.commands += commands
        plan.msg = f"{plan.msg} and {_ATTRS_MSG}" if plan.changed else _ATTRS_MSG
        if "check_msg" in plan.data:
            plan.data["check_msg"] += f" and {_ATTRS_MSG}"
        plan.changed = True

    def act(self, ctx: ModuleContext, plan: Plan) -> None:
        # the directory first, then the file, then its attributes
        mkdirs = [c for c in plan.commands if c.startswith("mkdir ")]
        rest = [c for c in plan.commands if c not in mkdirs]
        super().act(ctx, Plan(commands=mkdirs))
        super().act(ctx, Plan(files=plan.files, commands=rest))

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        params = self.params(args)
        observed = read_declared(self, ctx, params)
        plan = self.decide(params, observed)
        check_msg = plan.data.pop("check_msg", None)
        if plan.failed:
            return ModuleResult(failed=True, msg=_masked(plan.failed, params["password"]))
        if ctx.check_mode:
            return ModuleResult(changed=plan.changed, msg=_masked(check_msg or plan.msg, params["password"]),
                                data=plan.data)
        if plan.changed or plan.files:  # the module rewrites a file with blank lines even unchanged
            self.act(ctx, plan)
        return ModuleResult(changed=plan.changed, msg=_masked(plan.msg, params["password"]), data=plan.data)


def _masked(text: str, password: str | None) -> str:
    """Ansible's no_log for the password: any occurrence of it in what the task returns
    becomes ``********`` (even inside a path)."""
    return text.replace(password, "********") if password else text


MODULE = HtpasswdModule()
