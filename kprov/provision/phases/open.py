"""Open phase: connect each targeted host and gather its facts as soon as it is connected,
one thread per host, while the calling thread does the run's other preparation.

Connecting is mostly waiting (TCP, the server's key exchange, sshd's session), and so is the
facts round trip; a run has local work to do before its plays too (kprov apply makes the
operator-side artifacts current). Here both go on at once: the host threads start first,
then ``meanwhile`` runs on the calling thread, and the phase ends when all are done. A
host goes straight from its handshake to its facts (no barrier between all hosts'
connects and the facts), and then, once ``meanwhile`` is done, to ``then`` (the run-wide
look-ahead of the plays: it needs the variables ``meanwhile`` adds). If ``meanwhile``
raises, the phase still waits for the hosts (the sessions are then closed by the phase's
clean-up) and raises it; ``then`` does not run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from kprov.provision.execute.context import RunContext
from kprov.provision.phases.connect import DisconnectPhase, connect_host
from kprov.provision.phases.facts import gather_host

__all__ = ["OpenPhase"]


class OpenPhase:
    title = "Connect and gather facts"
    always = False

    def __init__(self, targets: list[str], gather: list[str],
                 meanwhile: Callable[[], None] | None = None,
                 then: Callable[[str], None] | None = None) -> None:
        self.targets, self.gather, self.meanwhile, self.then = targets, set(gather), meanwhile, then
        self._prepared = threading.Event()
        self._prepared_ok = False

    def should_run(self, run: RunContext) -> bool:
        return bool(self.targets) or self.meanwhile is not None

    def run(self, run: RunContext) -> None:
        for host in self.targets:
            run.report.add_host(host)
        workers = max(1, min(run.options.forks, len(self.targets)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kprov-open") as pool:
            futures = [pool.submit(self._open, run, h) for h in self.targets]
            try:
                if self.meanwhile is not None:
                    self.meanwhile()
                self._prepared_ok = True
            finally:
                self._prepared.set()
                for future in futures:
                    future.result()

    dry_run = run

    def _open(self, run: RunContext, host: str) -> None:
        if not connect_host(run, host):
            return
        if host in self.gather and run.hosts[host].alive:
            gather_host(run, host)
        if self.then is not None and run.hosts[host].alive:
            self._prepared.wait()
            if self._prepared_ok:
                self.then(host)

    def cleanup(self, run: RunContext) -> None:
        DisconnectPhase().run(run)
