"""A new-style module's program kept on the host, so a task sends only its arguments.

The program's args-independent head (the packed module_utils and the import hook,
``remote.payload_head``) is larger than the connection's persistent shell frames, so each
task opened an exec channel for it and the host decompressed it again (decision 0055, round
7). Ansible sends its AnsiballZ payload on every task as well; kprov instead keeps the head
in the remote user's
own ``~/.ansible/tmp/kprov-payloads/<sha256>.py`` (ansible-core's default ``remote_tmp``;
folder 0700, file 0600, the home found from the effective uid, not ``$HOME``, so a ``become``
never reads or writes another user's folder):

- each task first sends the small *cached* program: it reads the file, checks that its
  SHA-256 is its name (a partial, stale or altered file is never run) and runs it with the
  task's arguments; when the file is missing or wrong it prints ``MISSING_MARK`` and exits
  with ``MISSING_RC`` without running anything;
- then (first task of a module version on a host) the *full* program: the head as a literal,
  written to the cache (atomically; a failure to write is ignored) and run.

The module's own output, exit status and errors are those of the plain program: the cached
program adds nothing to stdout or stderr once the head runs. The cache is written in check
mode too (it is kprov's own file, as ansible-core's remote temporary folders are).

Pruning rides on the full program, the only thing that makes the cache grow: after writing
its head it removes the folder's heads (and leftover temporary files) whose mtime is older
than ``PRUNE_AFTER_S``. A head's mtime is its last use: the cached program touches the file
each time it runs it, so a head used by this run (or within the bound) is never removed, and
pruning costs no command of its own (it runs in a process the host starts anyway).
"""

from __future__ import annotations

import hashlib

__all__ = ["MISSING_MARK", "MISSING_RC", "PRUNE_AFTER_S", "cached_program", "full_program", "head_digest",
           "is_missing"]

MISSING_RC = 121
MISSING_MARK = "kprov: module payload not cached on this host"
# a cached head unused this long is removed by the next full program sent to the host
PRUNE_AFTER_S = 7 * 24 * 3600

_LOCATE = '''import os, pwd, sys
D = os.path.join(pwd.getpwuid(os.geteuid()).pw_dir, ".ansible", "tmp", "kprov-payloads")
P = os.path.join(D, %(digest)r + ".py")
'''

_CACHED = _LOCATE + '''import hashlib
try:
    with open(P, "rb") as f:
        HEAD = f.read()
except OSError:
    HEAD = b""
if hashlib.sha256(HEAD).hexdigest() != %(digest)r:
    sys.stdout.write(%(mark)r)
    sys.stdout.flush()
    os._exit(%(rc)d)
try:
    os.utime(P)
except OSError:
    pass
exec(compile(HEAD, "<kprov-head>", "exec", dont_inherit=True))
'''

_FULL = _LOCATE + '''HEAD = %(head)r
try:
    os.makedirs(D, mode=0o700, exist_ok=True)
    T = "%%s.%%d.tmp" %% (P, os.getpid())
    fd = os.open(T, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(HEAD)
    os.replace(T, P)
except OSError:
    pass
try:
    import time
    OLD = time.time() - %(prune_after)d
    for N in os.listdir(D):
        H, R = N[:64], N[64:]
        if len(H) < 64 or H.strip("0123456789abcdef"):
            continue
        if not (R == ".py" or (R[:4] == ".py." and R[-4:] == ".tmp")):
            continue
        try:
            F = os.path.join(D, N)
            S = os.lstat(F)
            if F != P and S.st_mode & 0o170000 == 0o100000 and S.st_mtime < OLD:
                os.unlink(F)
        except OSError:
            pass
except OSError:
    pass
exec(compile(HEAD, "<kprov-head>", "exec", dont_inherit=True))
'''


def head_digest(head: bytes) -> str:
    return hashlib.sha256(head).hexdigest()


def cached_program(digest: str) -> bytes:
    """The program that runs the cached head (the task's tail follows it)."""
    return (_CACHED % {"digest": digest, "mark": MISSING_MARK, "rc": MISSING_RC}).encode()


def full_program(head: bytes, digest: str) -> bytes:
    """The program that caches the head and runs it (the task's tail follows it)."""
    return (_FULL % {"digest": digest, "head": head, "prune_after": PRUNE_AFTER_S}).encode()


def is_missing(rc: int, stdout: str) -> bool:
    """The cached program's answer when the host has no valid copy of the head."""
    return rc == MISSING_RC and stdout == MISSING_MARK
