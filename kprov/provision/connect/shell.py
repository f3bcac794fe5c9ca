"""Shell command lines the transports share: privilege switching and atomic file placement.

Every command runs under ``/bin/sh -c`` so tasks see POSIX sh whatever the login shell is.
Privilege switching:
  - no become, or become to the user already logged in: the command as is;
  - logged in as root, become another user: ``runuser -u USER --`` (util-linux, always there);
  - otherwise sudo: ``sudo -H -n`` without a password, ``sudo -H -k -S -p ''`` with one (the
    password is then the first line of stdin; sudo reads it byte by byte, the rest is left for
    the command).

Placing a file atomically: the data is first staged in a temp file (in the target's directory
when possible), then ``finalize_script`` gives it the old file's owner/mode (or 0644 for a new
file), applies the requested owner/group/mode, and renames it over the target.
"""

from __future__ import annotations

import posixpath
import secrets
import shlex

__all__ = ["finalize_script", "needs_switch", "staging_name", "wrap_command"]


def needs_switch(login_user: str, become: bool, become_user: str | None) -> bool:
    return become and (become_user or "root") != login_user


def wrap_command(
    cmd: str, *, login_user: str, become: bool, become_user: str | None, sudo_password: bool
) -> str:
    """The command line to execute for ``cmd`` under the given become settings."""
    inner = f"/bin/sh -c {shlex.quote(cmd)}"
    if not needs_switch(login_user, become, become_user):
        return inner
    target = become_user or "root"
    if login_user == "root":
        return f"runuser -u {shlex.quote(target)} -- {inner}"
    if sudo_password:
        return f"sudo -H -k -S -p '' -u {shlex.quote(target)} -- {inner}"
    return f"sudo -H -n -u {shlex.quote(target)} -- {inner}"


def staging_name(path: str) -> str:
    """A hidden temp name beside ``path`` (same filesystem, so the rename is atomic)."""
    directory, base = posixpath.split(path)
    return posixpath.join(directory or ".", f".{base}.kprov-{secrets.token_hex(4)}")


def finalize_script(
    staged: str,
    dest: str,
    *,
    mode: int | None = None,
    owner: str | None = None,
    group: str | None = None,
    copy_from_elsewhere: bool = False,
) -> str:
    """Shell that moves the staged data over ``dest`` atomically, with attributes set first.

    With ``copy_from_elsewhere`` the staged file lives on another filesystem (e.g. /tmp) and is
    first copied next to ``dest`` (then removed).
    """
    q_dest = shlex.quote(dest)
    lines = ["set -e"]
    if copy_from_elsewhere:
        tmp = shlex.quote(staging_name(dest))
        lines.append(f"trap 'rm -f {tmp} {shlex.quote(staged)}' EXIT")
        lines.append(f"cp {shlex.quote(staged)} {tmp}")
    else:
        tmp = shlex.quote(staged)
        lines.append(f"trap 'rm -f {tmp}' EXIT")
    lines.append(
        f"if [ -e {q_dest} ]; then chown --reference={q_dest} {tmp} 2>/dev/null || true;"
        f" chmod --reference={q_dest} {tmp}; else chmod 0644 {tmp}; fi"
    )
    if owner is not None or group is not None:
        spec = (owner or "") + (f":{group}" if group is not None else "")
        lines.append(f"chown {shlex.quote(spec)} {tmp}")
    if mode is not None:
        lines.append(f"chmod {mode:04o} {tmp}")
    lines.append(f"mv -f {tmp} {q_dest}")
    return "\n".join(lines)
