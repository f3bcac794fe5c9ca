"""wait_for's ``state: drained``: a host-side test that no active TCP connection is left on a port.

ansible-core's wait_for drains by counting the host's TCP sockets in /proc/net/tcp and
/proc/net/tcp6 whose local port is the port, whose state is one of
``active_connection_states`` (default: every state but LISTEN and the closing ones past
TIME_WAIT), whose remote address is not one of ``exclude_hosts``, and whose local address is
one of ``host``'s addresses (or any, when ``host`` is a wildcard address). The wait ends when
that count is 0: a server may keep listening. (A listener that is still there is not a
connection: waiting for the port to close instead, as ``stopped`` does, outlasts every
drain of a live server.)

Two short programs for the host's Python: names in ``host`` and ``exclude_hosts`` resolve on
the host once, after the delay and before the polling loop, as the module resolves them
there (``getaddrinfo`` in its connection counter's constructor), into /proc's own notation
(each 32-bit word in the host's byte order); the second, the condition of wait_for's polling
loop, counts /proc's sockets against those addresses. Python rather than awk: IPv6 names and
literals need the host's resolver and ``inet_pton``. A name the host cannot resolve ends the
wait at once, as ansible-core's module raises then: the first program prints the traceback
and exits :data:`UNRESOLVED`, and the caller reports the module's crash.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

__all__ = ["DEFAULT_ACTIVE_STATES", "STATE_IDS", "UNRESOLVED", "drain_probe", "drain_resolve",
           "unknown_states"]

# the kernel's TCP state numbers as /proc/net/tcp prints them (include/net/tcp_states.h)
STATE_IDS = {
    "ESTABLISHED": "01",
    "SYN_SENT": "02",
    "SYN_RECV": "03",
    "FIN_WAIT1": "04",
    "FIN_WAIT2": "05",
    "TIME_WAIT": "06",
}
DEFAULT_ACTIVE_STATES = ("ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "SYN_RECV", "SYN_SENT", "TIME_WAIT")
# the program's exit when ``host`` or an excluded host does not resolve (0: drained, 1: not yet)
UNRESOLVED = 86

# argv: host, then the excluded hosts. Prints the host's addresses and the excluded ones in
# /proc's notation, comma-separated ("-" for none), on one line; exit UNRESOLVED when a name
# does not resolve (the traceback on stderr).
_RESOLVE = """\
import socket, sys, traceback
def words(family, text):
    raw = socket.inet_pton(family, text)
    return "".join("%08X" % int.from_bytes(raw[i:i + 4], sys.byteorder) for i in range(0, len(raw), 4))
def addresses(name):
    found = set()
    for family, _, _, _, where in socket.getaddrinfo(name, 80, 0, 0, socket.SOL_TCP):
        found.add(words(family, where[0]))
        if family == socket.AF_INET:
            found.add(words(socket.AF_INET6, "::ffff:" + where[0]))
    return found
try:
    local = addresses(sys.argv[1])
    excluded = set().union(*(addresses(name) for name in sys.argv[2:]))
except Exception:
    traceback.print_exc()
    sys.exit(UNRESOLVED)
print(",".join(sorted(local)) or "-", ",".join(sorted(excluded)) or "-")
""".replace("UNRESOLVED", str(UNRESOLVED))

# argv: port, comma-separated state numbers, then _RESOLVE's two fields. Exit 0: drained.
_COUNT = """\
import sys
port = "%04X" % int(sys.argv[1])
states = set(sys.argv[2].split(","))
local, excluded = set(sys.argv[3].split(",")), set(sys.argv[4].split(","))
any_v4, any_v6 = "0" * 8 in local, "0" * 32 in local
any_mapped = "0000000000000000FFFF000000000000" in local
active = 0
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        fields = row.split()
        here, there, state = fields[1].split(":"), fields[2].split(":"), fields[3]
        if state not in states or here[1] != port or there[0] in excluded:
            continue
        address = here[0]
        if (address in local or (any_v4 if len(address) == 8 else any_v6)
                or (any_mapped and address.startswith("0000000000000000FFFF0000"))):
            active += 1
sys.exit(1 if active else 0)
"""

# the shell variable the resolved addresses are kept in between the two steps
_WORDS = "drain_words"


def drain_resolve(python: str, host: str, exclude_hosts: Sequence[str]) -> str:
    """A shell command that resolves ``host`` and ``exclude_hosts`` once, on the host, into
    the variable the condition reads; it fails with :data:`UNRESOLVED` (the traceback on
    stderr) when a name does not resolve. ``python`` is the host's interpreter, quoted."""
    argv = " ".join(shlex.quote(a) for a in (host, *exclude_hosts))
    return f"{_WORDS}=$({python} -c {shlex.quote(_RESOLVE)} {argv})"


def drain_probe(python: str, port: int, states: Sequence[str]) -> str:
    """A shell condition, true when no connection counted as active is left on ``port``, of
    the addresses :func:`drain_resolve` found (run before it, in the same shell)."""
    ids = ",".join(STATE_IDS[state] for state in states)
    return f"{python} -c {shlex.quote(_COUNT)} {port} {ids} ${_WORDS}"


def unknown_states(states: Sequence[str]) -> list[str]:
    """The names in ``states`` that are not TCP states wait_for counts."""
    return [state for state in states if state not in STATE_IDS]
