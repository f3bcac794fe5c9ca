"""community.crypto.openssh_keypair: an SSH key pair on the host, made by the host's ssh-keygen.

Three steps (modules.contract): the probes ask ``ssh-keygen -l`` for the private key's size,
fingerprint and type, ``ssh-keygen -y`` for its public half, and read ``path.pub``; ``decide``
follows the module's rules — a missing or unreadable key is made; an existing one of another
type or size is made again under ``regenerate: partial_idempotence``/``full_idempotence``
(the default), refused under ``fail``, kept under ``never``, always replaced under
``always``/``force``; a ``.pub`` that is missing or does not match (type, key, and the
comment when one is asked for) is written again from the private key; ``state: absent``
removes both — and ``act`` runs ``ssh-keygen`` (no passphrase: ``passphrase`` is not
supported). The result (size, type, filename, fingerprint, public_key, comment) is read back
from the host after the change. Sizes: RSA 4096 by default (at least 1024), ECDSA 256/384/521,
DSA 1024, Ed25519 256.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleResult, TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule

__all__ = ["MODULE", "OpensshKeypairModule"]

_TYPES = ("rsa", "dsa", "rsa1", "ecdsa", "ed25519")
_REGENERATE = ("never", "fail", "partial_idempotence", "full_idempotence", "always")
_DEFAULT_SIZES = {"rsa": 4096, "rsa1": 4096, "dsa": 1024, "ecdsa": 256, "ed25519": 256}


def _size(params: Mapping[str, Any]) -> tuple[int, str]:
    """The key size for the type, or a failure message."""
    kind, size = params["type"], params["size"]
    result = _DEFAULT_SIZES[kind] if size is None or kind == "ed25519" else int(size)
    if kind in ("rsa", "rsa1") and result < 1024:
        return result, ("For RSA keys, the minimum size is 1024 bits and the default is 4096 bits. "
                        "Attempting to use bit lengths under 1024 will cause the module to fail.")
    if kind == "dsa" and result != 1024:
        return result, "DSA keys must be exactly 1024 bits as specified by FIPS 186-2."
    if kind == "ecdsa" and result not in (256, 384, 521):
        return result, ("For ECDSA keys, size determines the key length by selecting from one of three "
                        "elliptic curve sizes: 256, 384 or 521 bits. Attempting to use bit lengths other "
                        "than these three values for ECDSA keys will cause this module to fail.")
    return result, ""


def parse_listing(text: str) -> tuple[int, str, str] | None:
    """``ssh-keygen -l`` -> (size, fingerprint, type), e.g. '256 SHA256:abc c (ED25519)'."""
    words = text.strip().split()
    if len(words) < 3 or not words[0].isdigit() or not words[-1].startswith("("):
        return None
    return int(words[0]), words[1], words[-1].strip("()").lower()


class OpensshKeypairModule(ThreeStepModule):
    name = "openssh_keypair"
    spec = {
        "path": Arg(required=True),
        "type": Arg(default="rsa", choices=_TYPES),
        "size": Arg("int"),
        "comment": Arg(),
        "state": Arg(default="present", choices=("absent", "present")),
        "force": Arg("bool", default=False),
        "regenerate": Arg(default="partial_idempotence", choices=_REGENERATE),
        "mode": Arg(), "owner": Arg(), "group": Arg(),
    }

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        q = shlex.quote(str(params["path"]))
        return [f"[ -d {q} ] && echo directory; [ -e {q} ] && echo private; "
                f"[ -e {q}.pub ] && echo public; true",
                f"ssh-keygen -l -f {q} 2>/dev/null; true",
                f"ssh-keygen -y -f {q} </dev/null 2>/dev/null; true",
                f"cat {q}.pub 2>/dev/null; true"]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        where, listing, derived, public = (r.stdout for r in observed.values())
        path = str(params["path"])
        q = shlex.quote(path)
        present = where.split()
        if "directory" in present:
            return Plan(failed=f"{path} is a directory. Please specify a path to a file.")
        if params["state"] == "absent":
            removing = [p for p, mark in ((path, "private"), (path + ".pub", "public")) if mark in present]
            commands = [f"rm -f {' '.join(map(shlex.quote, removing))}"] if removing else []
            return Plan(changed=bool(removing), commands=commands)
        size, problem = _size(params)
        if problem:
            return Plan(failed=problem)
        regenerate = "always" if params["force"] else params["regenerate"]
        current = parse_listing(listing) if derived.strip() else None
        unreadable = "private" in present and current is None
        if unreadable and regenerate in ("never", "fail", "partial_idempotence"):
            return Plan(failed="Unable to read the key. The key is protected with a passphrase or broken. "
                               "Will not proceed. To force regeneration, call the module with `generate` set "
                               "to `full_idempotence` or `always`, or with `force=true`.")
        valid = current is not None and current[0] == size and current[2] == params["type"]
        generate = (current is None or regenerate == "always"
                    or (regenerate in ("partial_idempotence", "full_idempotence") and not valid))
        if current is not None and regenerate == "fail" and not valid:
            return Plan(failed="Key has wrong type and/or size. Will not proceed. To force regeneration, "
                               "call the module with `generate` set to `partial_idempotence`, "
                               "`full_idempotence` or `always`, or with `force=true`.")
        comment = params["comment"]
        if generate:
            bits = "" if params["type"] == "ed25519" else f" -b {size}"
            note = shlex.quote(str(comment or ""))  # no comment asked for: an empty one
            return Plan(changed=True, commands=[
                f"rm -f {q} {q}.pub && ssh-keygen -q -N '' -t {params['type']}{bits} -C {note} -f {q}"])
        wanted = derived.split()[:2]
        have = public.split()
        matches = have[:2] == wanted and (comment is None or " ".join(have[2:]) == str(comment))
        if matches:
            return Plan()
        # the public half without its comment, then the comment set on the private key (as the module)
        commands = [f"ssh-keygen -y -f {q} | cut -d' ' -f1,2 > {q}.pub"]
        if comment:
            commands.append(f"ssh-keygen -q -o -c -C {shlex.quote(str(comment))} -f {q} >/dev/null")
        return Plan(changed=True, commands=commands)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        result = super().run(ctx, args)
        if result.failed:
            return result
        params = self.params(args)
        size, _ = _size(params)
        q = shlex.quote(str(params["path"]))
        data: dict[str, Any] = {"size": size, "type": params["type"], "filename": params["path"],
                                "fingerprint": "", "public_key": "", "comment": ""}
        if params["state"] == "present" and not ctx.check_mode:
            listing = parse_listing(ctx.probe(f"ssh-keygen -l -f {q} 2>/dev/null; true").stdout)
            public = ctx.probe(f"cat {q}.pub 2>/dev/null; true").stdout.strip()
            data["fingerprint"] = listing[1] if listing else ""
            data["public_key"] = " ".join(public.split()[:2])  # type and key, as the module's str()
            data["comment"] = " ".join(public.split()[2:])
        result.data.update(data)
        return result


MODULE = OpensshKeypairModule()
