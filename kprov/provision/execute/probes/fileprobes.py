"""File probes of a batch in ONE python3 process instead of a subshell, ``stat`` and
``sha1sum`` each.

Most probes of a play are ``fileops.probe_script`` commands (stat, optional sha1, link target,
content), or the stat and sysctl modules' probes built on the same reads. Run as shell, each
costs the host a fork and one to three execs, for each of a play's file probes. Here they are
recognised exactly (a command is taken only if the module's own script function rebuilds it
byte for byte from the paths and flags found in it) and answered by one small Python program
on the host that prints, for each, what the shell form prints, framed like the rest of the
batch (execute.prefetch).

Only the plain cases are answered in Python: a path that is absent, or that stat reads, with a
checksum, link target or content read without error. On anything else (no python3, a file it
cannot read, a dangling link followed) the program prints nothing and fails, and the same
probes run as shell instead, so the answers are always the shell's. The group module's
``getent group NAME`` (a name, not a number) and slurp's ``base64 -w0`` of a regular file are
answered the same way: each as shell cost a lab host a subshell and an exec. So are the user
module's account query (``getent passwd``, ``id -Gn``, ``getent shadow``, where the password
hash needs the ``spwd`` module, in Python up to 3.12) and wait_for's port probe (``timeout``
and ``bash`` for a connect) when its host is an IPv4 address (a name would resolve through the
same NSS, but bash and Python may try its addresses in another order); the probe answers 0, 1
when the connection fails, 124 when it times out, as ``timeout`` does. The program looks each
owner and group name up once (NSS reads the whole /etc/passwd or /etc/group for every lookup).
"""

from __future__ import annotations

import base64
import functools
import ipaddress
import marshal
import re
import shlex
from collections.abc import Callable
from typing import Any

from kprov.provision.modules.commands.wait_for import port_probe
from kprov.provision.modules.files.fileops import probe_script
from kprov.provision.modules.files.slurp import slurp_script
from kprov.provision.modules.files.stat import ALGORITHMS, stat_script
from kprov.provision.modules.system.group import query_script as group_script
from kprov.provision.modules.system.sysctl import query_script
from kprov.provision.modules.system.user import query_script as user_script

__all__ = ["FileProbe", "file_probe", "native_script"]

# ("file", path, checksum, content, follow) | ("stat", path, follow, algorithm or "")
# | ("sysctl", file, proc) | ("group", name) | ("slurp", path) | ("user", name)
# | ("port", host, port, connect_timeout)
FileProbe = tuple[Any, ...]

_HEAD = re.compile(r"^if \[ -e (?P<q>.+?) \] \|\| \[ -L (?P=q) \]; then stat ")
_GROUP = re.compile(r"^getent group (?P<q>.+); true$")
_SLURP = re.compile(r"^base64 -w0 -- (?P<q>.+)$")
_USER = re.compile(r"^if pw=\$\(getent passwd (?P<q>.+?)\); then ")
_PORT = re.compile(r"^timeout (?P<t>[1-9][0-9]{0,5}) bash -c 'exec 3<>/dev/tcp/(?P<h>[0-9.]+)/"
                   r"(?P<p>[1-9][0-9]{0,4})' 2>/dev/null$")
_SYSCTL = re.compile(r"^printf 'FILE:'; \[ -f (?P<f>.+?) \] && base64 -w0 -- (?P=f); echo; "
                     r"printf 'LIVE:'; cat -- (?P<p>.+?) 2>/dev/null \| ")


def _word(quoted: str) -> str | None:
    try:
        words = shlex.split(quoted)
    except ValueError:
        return None
    return words[0] if len(words) == 1 else None


@functools.lru_cache(maxsize=4096)
def file_probe(command: str) -> FileProbe | None:
    """What a file, stat, sysctl, group, slurp, user or port probe command reads (None: not
    exactly one of them).
    Remembered per command: a batch asks twice (to order it, then to write it), and telling
    a probe means rendering up to 22 candidate scripts."""
    match = _GROUP.match(command)
    if match is not None:
        return _named("group", match, group_script, command)
    match = _SLURP.match(command)
    if match is not None:
        path = _word(match.group("q"))
        return ("slurp", path) if path is not None and slurp_script(path) == command else None
    match = _USER.match(command)
    if match is not None:
        return _named("user", match, user_script, command)
    match = _PORT.match(command)
    if match is not None:
        return _port(match.group("h"), int(match.group("p")), int(match.group("t")), command)
    match = _SYSCTL.match(command)
    if match is not None:
        file, proc = _word(match.group("f")), _word(match.group("p"))
        if file is not None and proc is not None and query_script(file, proc) == command:
            return ("sysctl", file, proc)
        return None
    match = _HEAD.match(command)
    path = _word(match.group("q")) if match is not None else None
    if path is None:
        return None
    for checksum in (False, True):
        for content in (False, True):
            for follow in (False, True):
                if probe_script(path, checksum=checksum, content=content, follow=follow) == command:
                    return ("file", path, checksum, content, follow)
    for follow in (False, True):
        for algorithm in ("", *ALGORITHMS):
            if stat_script(path, follow, algorithm or None) == command:
                return ("stat", path, follow, algorithm)
    return None


def _named(kind: str, match: re.Match[str], script: Callable[[str], str], command: str) -> FileProbe | None:
    """A group or user probe: getent takes an all-digit key for a GID or UID, so only names
    are answered here."""
    name = _word(match.group("q"))
    return (kind, name) if name and not name[0].isdigit() and script(name) == command else None


def _port(host: str, port: int, timeout: int, command: str) -> FileProbe | None:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return None
    if port > 65535 or port_probe(host, port, timeout) != command:
        return None
    return ("port", host, port, timeout)


# The probes reach the program marshalled (format 2: read by every Python 3), because marshal
# and binascii are built into the interpreter: json and base64 would import re, enum and
# functools, 17 of the program's 32 ms on a lab host (python3 -X importtime), paid on every
# host in every run. hashlib (OpenSSL) is imported only for a stat module's algorithm.
_MARSHAL_VERSION = 2

# Prints each probe's shell output followed by its frames, all at once at the end (stderr
# frames on fd 3: its own stderr is discarded); exits 1 without printing anything on any
# case it does not answer the way the shell would.
_PROGRAM = r"""
import binascii, grp, marshal, os, pwd, sys
try:
    from _sha1 import sha1
except ImportError:
    from hashlib import sha1
token, first, probes = marshal.loads(binascii.a2b_base64(sys.argv[1]))
def b64(data):
    return binascii.b2a_base64(data, newline=False).decode()
names = {}
def name(f, i):
    if (f, i) not in names:
        try:
            names[f, i] = f(i)[0]
        except KeyError:
            names[f, i] = "UNKNOWN"
    return names[f, i]
def read(p):
    with open(p, "rb") as h:
        return h.read()
def state(p, checksum, content, follow):
    if not (os.path.exists(p) or os.path.islink(p)):
        return "ABSENT\n"
    st = os.stat(p) if follow else os.lstat(p)
    fields = [format(st.st_mode, "x"), st.st_uid, st.st_gid, name(pwd.getpwuid, st.st_uid),
              name(grp.getgrgid, st.st_gid), st.st_size, st.st_mtime_ns // 10**9,
              st.st_atime_ns // 10**9, st.st_ctime_ns // 10**9, st.st_ino, st.st_dev, st.st_nlink]
    text = "STAT:" + "|".join(str(f) for f in fields) + "\n"
    regular = os.path.isfile(p)
    if checksum and regular and os.access(p, os.R_OK):
        text += "SHA1:" + sha1(read(p)).hexdigest() + "  -\n"
    if os.path.islink(p):
        text += "LINK:" + os.readlink(p) + "\n"
    if content and regular:
        text += "DATA:" + b64(read(p)) + "\n"
    return text
def answer(kind, *a):
    if kind == "file":
        return state(*a)
    if kind == "port":
        import _socket
        host, port, limit = a
        s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        s.settimeout(limit)
        try:
            s.connect((host, port))
        except TimeoutError:
            return "", 124
        except OSError:
            return "", 1
        finally:
            s.close()
        return "", 0
    if kind == "user":
        try:
            pw = pwd.getpwnam(a[0])
        except KeyError:
            return ""
        groups = [pw.pw_gid]
        for gid in os.getgrouplist(a[0], pw.pw_gid):
            if gid != pw.pw_gid and gid != groups[-1]:
                groups.append(gid)
        try:
            import spwd
            hashed = spwd.getspnam(a[0]).sp_pwdp
        except KeyError:
            hashed = ""
        return "PW:%s:%s:%d:%d:%s:%s:%s\nGROUPS:%s\nSHADOW:%s\n" % (
            pw.pw_name, pw.pw_passwd, pw.pw_uid, pw.pw_gid, pw.pw_gecos, pw.pw_dir, pw.pw_shell,
            " ".join(grp.getgrgid(g).gr_name for g in groups), hashed)
    if kind == "group":
        try:
            g = grp.getgrnam(a[0])
        except KeyError:
            return ""
        return "%s:%s:%d:%s\n" % (g.gr_name, g.gr_passwd, g.gr_gid, ",".join(g.gr_mem))
    if kind == "slurp":
        if not os.path.isfile(a[0]):
            raise OSError(a[0])
        return b64(read(a[0]))
    if kind == "stat":
        p, follow, algorithm = a
        text = state(p, False, False, follow)
        for flag, line in ((os.R_OK, "R:1\n"), (os.W_OK, "W:1\n"), (os.X_OK, "X:1\n")):
            if os.access(p, flag):
                text += line
        if algorithm and os.path.isfile(p) and os.access(p, os.R_OK):
            import hashlib
            text += "SUM:" + hashlib.new(algorithm, read(p)).hexdigest() + "  -\n"
        return text
    f, p = a
    text = "FILE:" + (b64(read(f)) if os.path.isfile(f) else "") + "\n"
    live = read(p).replace(b"\n", b" ").replace(b"\t", b" ") if os.path.exists(p) else b""
    text += "LIVE:" + live.decode("utf-8", "surrogateescape") + "\n"
    return text + ("WRITABLE:1\n" if os.access(p, os.W_OK) else "")
out, err = [], []
try:
    for n, probe in enumerate(probes, first):
        text = answer(*probe)
        text, rc = text if isinstance(text, tuple) else (text, 0)
        out.append(text + "\n%s:%d:%d\n" % (token, n, rc))
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
    arg = base64.b64encode(marshal.dumps([token, first, list(probes)], _MARSHAL_VERSION)).decode()
    fallback = "\n".join(f"(\n{cmd}\n) </dev/null; {frame} {first + i} $?" for i, cmd in enumerate(shell))
    return (f"if ! python3 -I -S -c {shlex.quote(_PROGRAM)} {arg} </dev/null 3>&2 2>/dev/null; then\n"
            f"{fallback}\n:\nfi")
