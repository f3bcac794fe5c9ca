"""The user module's ``generate_ssh_key``, as ansible-core's user module does it.

ansible-core's ``ssh_key_gen``: the key file is ``ssh_key_file`` (default ``.ssh/id_<type>``,
relative to the user's home), its folder is made 0700 and owned by the user when missing,
an existing private or public key file is left alone (a warning says so) unless ``force``
(then overwritten, with a warning), and ``ssh-keygen -t <type> [-b <bits>] -C <comment>
-f <file> -N <passphrase>`` makes the pair, which is then owned by the user. The task is
changed only when a key is (or, in check mode, would be) made. Its result carries
``ssh_fingerprint`` (``ssh-keygen -l -f``'s line), ``ssh_key_file`` and ``ssh_public_key``
(None when there is none).

One shell script does all of it on the host; it first runs read-only (``dry``: what it would
do, and the fingerprint and public key as they are) and runs again to act only when a key
is to be made, so a converged host pays one read. The passphrase travels on the command's
stdin, never in its text (which the run log keeps).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KeyOutcome", "keygen_script", "parse_outcome"]

_SCRIPT = r"""u={name}; f={file}; dry={dry}; force={force}
pw=$(getent passwd "$u") || exit 0
uid=$(printf '%s\n' "$pw" | cut -d: -f3); gid=$(printf '%s\n' "$pw" | cut -d: -f4)
home=$(printf '%s\n' "$pw" | cut -d: -f6)
case $f in
  /*) k=$f ;;
  *) if [ ! -e "$home" ] && [ "$dry" = 0 ]; then
       echo "User $u home directory does not exist" >&2; exit 1; fi
     k=$home/$f ;;
esac
printf 'KEY:%s\n' "$k"
gen=1; ow=n; skip='skipping ssh-keygen generation'
d=$(dirname "$k")
if [ ! -e "$d" ]; then
  if [ "$dry" = 1 ]; then echo CHANGED; gen=0
  else mkdir -m 0700 "$d" && chown "$uid:$gid" "$d" || { echo "Failed to create $d" >&2; exit 1; }; fi
fi
if [ "$gen" = 1 ] && [ -e "$k" ]; then
  if [ "$force" = 1 ]; then printf 'WARN:Overwriting existing ssh key private file "%s"\n' "$k"; ow=y
  else printf 'WARN:Found existing ssh key private file "%s", no force, so %s\n' "$k" "$skip"
    gen=0; fi
fi
if [ "$gen" = 1 ] && [ -e "$k.pub" ]; then
  if [ "$force" = 1 ]; then printf 'WARN:Overwriting existing ssh key public file "%s"\n' "$k.pub"
    [ "$dry" = 1 ] || rm -f -- "$k.pub"
  else printf 'WARN:Found existing ssh key public file "%s", no force, so %s\n' "$k.pub" "$skip"
    gen=0; fi
fi
if [ "$gen" = 1 ]; then
  if [ "$dry" = 0 ]; then
    IFS= read -r kp || true
    err=$(printf '%s\n' "$ow" | ssh-keygen -t {type}{bits} -C {comment} -f "$k" -N "$kp" 2>&1 >/dev/null) \
      || { rc=$?; printf '%s\n' "$err" >&2; exit $rc; }
    chown "$uid:$gid" "$k" "$k.pub"
  fi
  echo CHANGED
fi
if [ -e "$k" ]; then
  if fp=$(ssh-keygen -l -f "$k" 2>/dev/null); then printf 'FP:%s\n' "$fp"; else echo FP:; fi
else echo FP:; fi
if [ -r "$k.pub" ]; then printf 'PUB:'; tr -d '\n' < "$k.pub"; echo; fi
"""
# ansible-core's default comment names the host the module runs on
_DEFAULT_COMMENT = '"ansible-generated on $(uname -n)"'


def keygen_script(params: Mapping[str, Any], *, dry: bool) -> str:
    """The script for the user module's ``params`` (dry: change nothing, say what it would)."""
    key_type = params.get("ssh_key_type") or "rsa"
    bits = params.get("ssh_key_bits") or 0
    comment = params.get("ssh_key_comment")
    return (
        _SCRIPT.replace("{name}", shlex.quote(params["name"]))
        .replace("{file}", shlex.quote(params.get("ssh_key_file") or f".ssh/id_{key_type}"))
        .replace("{dry}", "1" if dry else "0")
        .replace("{force}", "1" if params.get("force") else "0")
        .replace("{type}", shlex.quote(key_type))
        .replace("{bits}", f" -b {int(bits)}" if int(bits) > 0 else "")
        .replace("{comment}", shlex.quote(comment) if comment is not None else _DEFAULT_COMMENT)
    )


@dataclass(frozen=True)
class KeyOutcome:
    """What the script said: a key made (would be), and the task's key return values."""

    changed: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def parse_outcome(stdout: str) -> KeyOutcome | None:
    """The script's tagged lines; None when the user does not exist (no key, as Ansible)."""
    lines = stdout.splitlines()
    key = next((line[4:] for line in lines if line.startswith("KEY:")), None)
    if key is None:
        return None
    data: dict[str, Any] = {
        "ssh_fingerprint": next((line[3:].strip() for line in lines if line.startswith("FP:")), ""),
        "ssh_key_file": key,
        "ssh_public_key": next((line[4:].strip() for line in lines if line.startswith("PUB:")), None),
    }
    warnings = [line[5:] for line in lines if line.startswith("WARN:")]
    return KeyOutcome(changed="CHANGED" in lines, data=data, warnings=warnings)
