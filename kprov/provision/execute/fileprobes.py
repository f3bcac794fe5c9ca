"""File probes of a batch in ONE python3 process instead of a subshell, ``stat`` and
``sha1sum`` each.

Most probes of a play are ``fileops.probe_script`` commands (stat, optional sha1, link
target, content). Run as shell, each costs the host a fork and one or two execs: a play's
forty file probes took a lab host a third of a second. Here they are recognised exactly (a
command is taken only if ``probe_script`` rebuilds it byte for byte from the path and
flags found in it) and answered by one small Python program on the host that prints, for
each, what the shell form prints (the same lines, as ``fileops.parse_probe`` reads them),
framed like the rest of the batch (execute.prefetch).

Only the plain cases are answered in Python: a path that is absent, or that stat reads,
with a checksum, link target or content read without error. On anything else (no
python3, a file it cannot read, a dangling link followed) the program prints nothing and
fails, and the same probes run as shell instead, so the answers are always the shell's.
"""

from __future__ import annotations

import base64
import json
import re
import shlex

from kprov.provision.modules.fileops import probe_script

__all__ = ["FileProbe", "file_probe", "native_script"]

FileProbe = tuple[str, bool, bool, bool]  # path, checksum, content, follow

_HEAD = re.compile(r"^if \[ -e (?P<q>.+?) \] \|\| \[ -L (?P=q) \]; then stat ")


def file_probe(command: str) -> FileProbe | None:
    """The path and flags of a ``probe_script`` command (None: not exactly one)."""
    match = _HEAD.match(command)
    if match is None:
        return None
    try:
        words = shlex.split(match.group("q"))
    except ValueError:
        return None
    if len(words) != 1:
        return None
    path = words[0]
    for checksum in (False, True):
        for content in (False, True):
            for follow in (False, True):
                if probe_script(path, checksum=checksum, content=content, follow=follow) == command:
                    return (path, checksum, content, follow)
    return None


# Prints each probe's shell output followed by its frames, all at once at the end (stderr
# frames on fd 3: its own stderr is discarded); exits 1 without printing anything on any
# case it does not answer the way the shell would.
_PROGRAM = r"""
import base64, grp, hashlib, json, os, pwd, stat as S, sys
token, first, probes = json.loads(base64.b64decode(sys.argv[1]))
def name(f, i):
    try:
        return f(i)[0]
    except KeyError:
        return "UNKNOWN"
def read(p):
    with open(p, "rb") as h:
        return h.read()
out, err = [], []
try:
    for n, (p, checksum, content, follow) in enumerate(probes, first):
        if not (os.path.exists(p) or os.path.islink(p)):
            text = "ABSENT\n"
        else:
            st = os.stat(p) if follow else os.lstat(p)
            fields = [format(st.st_mode, "x"), st.st_uid, st.st_gid, name(pwd.getpwuid, st.st_uid),
                      name(grp.getgrgid, st.st_gid), st.st_size, st.st_mtime_ns // 10**9,
                      st.st_atime_ns // 10**9, st.st_ctime_ns // 10**9, st.st_ino, st.st_dev, st.st_nlink]
            text = "STAT:" + "|".join(str(f) for f in fields) + "\n"
            regular = os.path.isfile(p)
            if checksum and regular and os.access(p, os.R_OK):
                text += "SHA1:" + hashlib.sha1(read(p)).hexdigest() + "  -\n"
            if os.path.islink(p):
                text += "LINK:" + os.readlink(p) + "\n"
            if content and regular:
                text += "DATA:" + base64.b64encode(read(p)).decode() + "\n"
        out.append(text + "\n%s:%d:0\n" % (token, n))
        err.append("\n%s:%d\n" % (token, n))
except Exception:
    sys.exit(1)
os.write(1, "".join(out).encode("utf-8", "surrogateescape"))
os.write(3, "".join(err).encode())
os._exit(0)
"""


def native_script(probes: list[FileProbe], shell: list[str], token: str, first: int,
                  frame: str) -> str:
    """Shell that answers ``probes`` (batch indices ``first``...) with one python3, else runs
    their ``shell`` forms with ``frame`` (the batch's frame function) after each."""
    arg = base64.b64encode(json.dumps([token, first, probes]).encode()).decode()
    fallback = "\n".join(f"(\n{cmd}\n) </dev/null; {frame} {first + i} $?" for i, cmd in enumerate(shell))
    return (f"if ! python3 -I -S -c {shlex.quote(_PROGRAM)} {arg} </dev/null 3>&2 2>/dev/null; then\n"
            f"{fallback}\n:\nfi")
