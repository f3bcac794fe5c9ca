"""ansible.posix.authorized_key: keys in a user's authorized_keys, as the Ansible module keeps them.

Three steps (modules.contract): the probes read the user's passwd entry and the key file;
``decide`` parses the file and the wanted keys the way the module does and plans the new
text; ``act`` creates the directory (0700) and the file (0600), owned by the user, when
they are missing, then writes the text (an existing file keeps its owner and mode).

The module's observable rules, kept here: a line is a key when one of its blank-separated
words is an SSH key type (the words before it are options, the word after it the key, the
rest the comment); every other line (comments, blanks, garbage) is kept as it is, one entry
per distinct line; keys are identified by the key word; a wanted key present with other
options, type or comment is replaced and moves after the existing lines, new keys go
after the existing lines in the order given; ``exclusive`` drops every other entry;
``key_options`` and ``comment`` override the given key's; written lines are
``options type key comment`` with the options comma-joined (a key without a comment keeps
the blank before the empty comment, as the module writes it). Key URLs are not fetched.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleFailed, TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule
from kprov.provision.modules.files.fileops import content_diff, parse_probe, probe_script

__all__ = ["MODULE", "AuthorizedKeyModule"]

KEY_TYPES = frozenset((
    "sk-ecdsa-sha2-nistp256@openssh.com", "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com", "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com", "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com",
    "ssh-dss", "ssh-rsa", "ssh-xmss@openssh.com", "ssh-xmss-cert-v01@openssh.com", "rsa-sha2-256",
    "rsa-sha2-512", "ssh-rsa-cert-v01@openssh.com", "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com", "ssh-dss-cert-v01@openssh.com",
))
_OPTION = re.compile(r"""((?:[^,"']|"[^"]*"|'[^']*')+)""")


@dataclass(frozen=True)
class Entry:
    ident: str  # the key word, or the whole line of a line that is not a key
    key_type: str  # "" for a line kept as it is
    options: tuple[tuple[str, str | None], ...] = ()
    comment: str = ""
    rank: int = 0

    def same(self, other: Entry) -> bool:
        return (self.key_type, self.options, self.comment) == (other.key_type, other.options, other.comment)

    def line(self) -> str:
        if not self.key_type:
            return self.ident
        options = ",".join(k if v is None else f"{k}={v}" for k, v in self.options)
        return f"{options + ' ' if options else ''}{self.key_type} {self.ident} {self.comment}\n"


def parse_options(text: str | None) -> tuple[tuple[str, str | None], ...]:
    if not text:
        return ()
    out: list[tuple[str, str | None]] = []
    for part in _OPTION.findall(text):
        name, eq, value = part.partition("=")
        out.append((name, value if eq else None))
    return tuple(out)


def parse_key(raw: str, rank: int) -> Entry | None:
    """A key line's entry; None when no word of it is a key type."""
    raw = raw.replace(r"\#", "#")
    words = raw.split()
    if words and words[0] == "#":
        return Entry(raw, "", rank=rank)
    index = next((i for i, word in enumerate(words) if word in KEY_TYPES), None)
    if index is None or index + 1 >= len(words):
        return None
    return Entry(words[index + 1], words[index], parse_options(" ".join(words[:index])),
                 " ".join(words[index + 2:]), rank)


def parse_file(text: str) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for rank, line in enumerate(text.splitlines(keepends=True)):
        entry = parse_key(line, rank) or Entry(line, "", rank=rank)
        entries[entry.ident] = entry
    return entries


class AuthorizedKeyModule(ThreeStepModule):
    name = "authorized_key"
    spec = {
        "user": Arg(required=True),
        "key": Arg(required=True),
        "path": Arg(),
        "manage_dir": Arg("bool", default=True),
        "state": Arg(default="present", choices=("absent", "present")),
        "key_options": Arg(),
        "exclusive": Arg("bool", default=False),
        "comment": Arg(),
        "follow": Arg("bool", default=False),
        "validate_certs": Arg("bool", default=True),
    }

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        passwd = f"getent passwd {shlex.quote(str(params['user']))} || true"
        if params["path"]:
            return [passwd, probe_script(str(params["path"]), content=True, follow=True)]
        return [passwd]  # run() reads the user's home first, then asks again with the path

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        results = list(observed.values())
        fields = results[0].stdout.strip().split(":")
        if len(fields) < 7:
            return Plan(failed=f"Failed to lookup user {params['user']}: 'getpwnam(): name not found: "
                               f"{params['user']}'")
        path = str(params["path"] or f"{fields[5].rstrip('/')}/.ssh/authorized_keys")
        state = parse_probe(path, results[1].stdout) if len(results) > 1 else None
        return self._plan(params, path, fields, state)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> Any:
        params = self.params(args)
        if params["path"]:
            return super().run(ctx, args)
        # the default path follows from the user's home: read that first, then the file
        passwd = ctx.probe(self.probes(params, ctx.view())[0])
        fields = passwd.stdout.strip().split(":")
        if len(fields) >= 7:
            args = {**args, "path": f"{fields[5].rstrip('/')}/.ssh/authorized_keys"}
            result = super().run(ctx, args)
            result.data["path"] = None
            return result
        return super().run(ctx, args)

    def _plan(self, params: Mapping[str, Any], path: str, fields: list[str], state: Any) -> Plan:
        before = (state.data or b"").decode("utf-8", "surrogateescape") if state and state.exists else ""
        entries = parse_file(before)
        last_rank = len(entries)
        wanted: list[str] = []
        write = False
        present = params["state"] == "present"
        lines = [s for s in str(params["key"]).splitlines() if s and not s.startswith("#")]
        for rank, line in enumerate(lines):
            new = parse_key(line, rank)
            if new is None or not new.key_type:
                return Plan(failed=f"invalid key specified: {line}")
            if params["key_options"] is not None:
                new = Entry(new.ident, new.key_type, parse_options(params["key_options"]), new.comment, rank)
            if params["comment"] is not None:
                new = Entry(new.ident, new.key_type, new.options, str(params["comment"]), rank)
            old = entries.get(new.ident)
            matched = old is not None and (old.same(new) or not present)
            if present:
                wanted.append(new.ident)
                if old is not None and not matched:
                    del entries[new.ident]
                    write = True
                if not matched:
                    entries[new.ident] = Entry(new.ident, new.key_type, new.options, new.comment,
                                               last_rank + new.rank)
                    write = True
            elif matched:
                del entries[new.ident]
                write = True
        if present and params["exclusive"]:
            for ident in [i for i in entries if i not in wanted]:
                del entries[ident]
                write = True
        data = {k: params[k] for k in self.spec} | {"keyfile": path}
        after = "".join(e.line() for e in sorted(entries.values(), key=lambda e: e.rank))
        if params["path"]:  # a result naming a path gets its file's facts (Ansible's exit_json)
            data |= self._path_info(state, fields, len(after.encode()) if write else None)
        plan = Plan(changed=write, data=data)
        if not write:
            return plan
        plan.files = {path: after}
        plan.diff = [content_diff(path, state.data if state and state.exists else None,
                                  after.encode("utf-8", "surrogateescape"))]
        owner = f"{shlex.quote(fields[2])}:{shlex.quote(fields[3])}"
        q = shlex.quote(path)
        directory = shlex.quote(path.rsplit("/", 1)[0] or "/")
        if params["manage_dir"]:
            plan.commands.append(f"[ -d {directory} ] || {{ mkdir -p {directory} && "
                                 f"chown {owner} {directory} && chmod 0700 {directory}; }}")
        plan.commands.append(f"[ -e {q} ] || {{ touch {q} && chown {owner} {q} && chmod 0600 {q}; }}")
        return plan

    @staticmethod
    def _path_info(state: Any, fields: list[str], written: int | None) -> dict[str, Any]:
        if state is not None and state.exists:
            info = {"uid": state.uid, "gid": state.gid, "owner": state.owner, "group": state.group,
                    "mode": f"{state.mode:04o}", "size": state.size}
        elif written is not None:  # created by this task: the user's, 0600
            info = {"uid": int(fields[2]), "gid": int(fields[3]), "owner": fields[0], "mode": "0600"}
        else:
            return {"state": "absent"}
        if written is not None:
            info["size"] = written
        return {**info, "state": "file"}

    def act(self, ctx: ModuleContext, plan: Plan) -> None:
        for command in plan.commands:  # the directory and an empty file first, then the text
            done = ctx.run(command)
            if done.rc != 0:
                raise ModuleFailed(f"{self.name}: `{command}` failed (rc={done.rc}): "
                                   f"{(done.stderr or done.stdout).strip()}", rc=done.rc)
        for path, content in plan.files.items():
            done = ctx.run(f"cat > {shlex.quote(path)}", stdin=content.encode("utf-8", "surrogateescape"))
            if done.rc != 0:
                raise ModuleFailed(f"{self.name}: cannot write {path}: {done.stderr.strip()}")


MODULE = AuthorizedKeyModule()
