"""Which hosts answer at all: one TCP connect per host to its SSH port, all at once.

A powered-off host (or one cut off the network) never answers a connect. Without this probe
every check that reaches it waits out its own timeout, one after another: its SSH checks, its
kubelet's metrics, its NetworkPolicy agent, its Ingress, the smoke pods placed on it, the
cluster DNS probe from it, the check-mode run (with that run's connect retries): about two
minutes on a five-host lab. Probed once up front, such a host is one failed row that names it
and says what to do, and every other check leaves it out.

The bound is the host's connect timeout as a run reads it (Ansible's ``timeout``:
``ansible_timeout`` / ``ansible_ssh_timeout`` / ``-o ConnectTimeout``, 10 s by default),
one attempt per verify: a host that answers slowly still answers within it. A refused
connection is an answer (the host is up and its SSH daemon is not; the SSH row says so); a
host reached through a jump host, or the local connection, is not probed (nothing here can
see it directly). ``probe`` takes the connect function so tests can feed it failures.
"""

from __future__ import annotations

import errno
import math
import socket
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kprov.deploy.verify.report import Check
from kprov.provision.connect.settings import ConnectionSettings, SettingsError

__all__ = ["SshTarget", "probe", "ssh_target", "whole_seconds", "unreachable_hosts", "unreachable_row"]

Connect = Callable[[tuple[str, int], float], Any]  # socket.create_connection's shape
# what a connect that got no answer ends in: the bound passed, or the kernel gave up on the
# neighbour (no ARP/NDP answer) or has no route; anything else (refused, reset) is an answer
_NO_ANSWER = {errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN}


@dataclass(frozen=True)
class SshTarget:
    """Where a host's SSH daemon listens as a run connects to it, and how long a connect may take."""

    address: str
    port: int
    timeout: float
    direct: bool = True  # False: through a jump host or the local connection (not probed)


def ssh_target(host: str, host_vars: Mapping[str, Any]) -> SshTarget:
    """The host's address, port and connect timeout as a run reads them (inventory variables
    that kprov cannot use leave the defaults: the SSH row reports them)."""
    try:
        s = ConnectionSettings.from_host_vars(host, host_vars)
    except SettingsError:
        return SshTarget(str(host_vars.get("ansible_host", host)), 22, 10.0)
    direct = s.jump is None and s.transport != "local"
    return SshTarget(s.address, s.port, max(0.1, s.connect_timeout), direct)


def whole_seconds(target: SshTarget) -> int:
    """The bound for testinfra's paramiko backend, which takes whole seconds."""
    return max(1, math.ceil(target.timeout))


def probe(target: SshTarget, connect: Connect = socket.create_connection) -> str | None:
    """None when the host answers a TCP connect within the bound (accepted or refused), else why not."""
    if not target.direct:
        return None
    try:
        connect((target.address, target.port), target.timeout).close()
    except TimeoutError:
        return f"no answer within {target.timeout:g} s"
    except OSError as exc:
        if exc.errno in _NO_ANSWER:
            return exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        return None  # refused, reset, ...: something answered
    return None


def unreachable_hosts(host_vars: Mapping[str, Mapping[str, Any]],
                      connect: Connect = socket.create_connection) -> dict[str, str]:
    """Every host probed at once; the ones that did not answer, with the row's detail."""
    names = list(host_vars)
    targets = {h: ssh_target(h, host_vars[h]) for h in names}
    with ThreadPoolExecutor(max_workers=max(1, min(32, len(names)))) as pool:
        reasons = dict(zip(names, pool.map(lambda h: probe(targets[h], connect), names), strict=True))
    return {h: _detail(targets[h], why) for h, why in reasons.items() if why is not None}


def _detail(target: SshTarget, why: str) -> str:
    return (f"unreachable: {target.address}:{target.port} did not answer a TCP connect ({why}; bound: "
            f"ansible_timeout, {target.timeout:g} s); this host's other checks were skipped. Is it "
            "powered on and on the network? Start it (or restore its link), then rerun kprov verify")


def unreachable_row(host: str, detail: str) -> Check:
    """The host's one row: the row an SSH connect that failed gives, named the same."""
    return Check(host, "reachable over SSH", False, detail)
