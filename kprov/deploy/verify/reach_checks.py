"""Which hosts answer at all, as each host's own SSH connect finds out, shared with every other check.

A powered-off host (or one cut off the network) never answers a connect. Checked blindly,
every check that reaches it waits out its own timeout, one after another: its SSH checks, its
kubelet's metrics, its NetworkPolicy agent, its Ingress, the smoke pods placed on it, the
cluster DNS probe from it, the check-mode run (with that run's connect retries): about two
minutes on a five-host lab. Instead the host checks' one SSH connect per host (all hosts at
once) reports to a :class:`Reachability`; the checks that reach hosts wait for every host's
report and leave out the ones that did not answer, which are one failed row each, naming the
host and what to do. No extra connection is made (a bare TCP probe would be one more
connection per host, and one more line in each host's sshd log).

The bound is the host's connect timeout as a run reads it (Ansible's ``timeout``:
``ansible_timeout`` / ``ansible_ssh_timeout`` / ``-o ConnectTimeout``, 10 s by default),
one attempt per verify. Only a connect nothing answered makes a host unreachable (the bound
passed, or the kernel found no neighbour or route); a refused connection, a failed
handshake or login is an answer: the host is up, and its SSH row says what failed.
"""

from __future__ import annotations

import errno
import math
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from kprov.deploy.verify.report import Check
from kprov.provision.connect.settings import ConnectionSettings, SettingsError

__all__ = ["Reachability", "SshTarget", "no_answer", "ssh_target", "unreachable_row", "whole_seconds"]

# what a connect that got no answer ends in: the kernel gave up on the neighbour (no ARP/NDP
# answer) or has no route; anything else (refused, reset) is an answer
_NO_ANSWER = {errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN}


@dataclass(frozen=True)
class SshTarget:
    """Where a host's SSH daemon listens as a run connects to it, and how long a connect may take."""

    address: str
    port: int
    timeout: float


def ssh_target(host: str, host_vars: Mapping[str, Any]) -> SshTarget:
    """The host's address, port and connect timeout as a run reads them (inventory variables
    that kprov cannot use leave the defaults: the SSH row reports them)."""
    try:
        s = ConnectionSettings.from_host_vars(host, host_vars)
    except SettingsError:
        return SshTarget(str(host_vars.get("ansible_host", host)), 22, 10.0)
    return SshTarget(s.address, s.port, max(0.1, s.connect_timeout))


def whole_seconds(target: SshTarget) -> int:
    """The bound for testinfra's paramiko backend, which takes whole seconds."""
    return max(1, math.ceil(target.timeout))


def _errors(exc: BaseException) -> list[BaseException]:
    """paramiko's NoValidConnectionsError wraps one error per address tried (``errors``)."""
    wrapped = getattr(exc, "errors", None)
    return list(wrapped.values()) if isinstance(wrapped, dict) and wrapped else [exc]


def no_answer(exc: BaseException, target: SshTarget) -> str | None:
    """The row's detail when ``exc`` (from connecting) means nothing answered; None when
    something did (refused, a handshake or a login that failed)."""
    errors = _errors(exc)
    if all(isinstance(e, TimeoutError) for e in errors):
        why = f"no answer within {target.timeout:g} s"
    elif all(isinstance(e, OSError) and e.errno in _NO_ANSWER for e in errors):
        first = errors[0]
        why = (first.strerror if isinstance(first, OSError) else None) or type(first).__name__
    else:
        return None
    return (f"unreachable: {target.address}:{target.port} did not answer a TCP connect ({why}; bound: "
            f"ansible_timeout, {target.timeout:g} s); this host's other checks were skipped. Is it "
            "powered on and on the network? Start it (or restore its link), then rerun kprov verify")


def unreachable_row(host: str, detail: str) -> Check:
    """The host's one row: the row an SSH connect that failed gives, named the same."""
    return Check(host, "reachable over SSH", False, detail)


class Reachability:
    """Every host's connect outcome as its checks report it (the first report of a host
    counts); :attr:`unreachable` resolves, host -> detail, once every host has reported."""

    def __init__(self, hosts: Iterable[str]) -> None:
        self._order = list(hosts)
        self._pending = set(self._order)
        self._down: dict[str, str] = {}
        self._lock = threading.Lock()
        self.unreachable: Future[dict[str, str]] = Future()
        if not self._pending:
            self.unreachable.set_result({})

    def report(self, host: str, detail: str | None) -> None:
        """``detail``: the host did not answer (why, what to do); None: it answered."""
        with self._lock:
            if host not in self._pending:
                return
            self._pending.discard(host)
            if detail is not None:
                self._down[host] = detail
            finished = not self._pending
        if finished:
            self.unreachable.set_result({h: self._down[h] for h in self._order if h in self._down})
