"""Open phase: connect each targeted host and gather its facts as soon as it is connected,
one thread per host, while the calling thread does the run's other preparation.

Connecting is mostly waiting (TCP, the server's key exchange, sshd's session), and so is the
facts round trip; a run has local work to do before its plays too (kprov apply makes the
operator-side artifacts current). Here both go on at once: the host threads start first,
then ``meanwhile`` runs on the calling thread, and the phase ends when all are done. A
host goes straight from its handshake to its facts (no barrier between all hosts'
connects and the facts), and then, once ``meanwhile`` is done, to ``then`` (the run-wide
look-ahead of the plays: it needs the variables ``meanwhile`` adds). A host that is ready
before ``meanwhile`` is done does not hold one of the ``--forks`` workers while it waits:
it is set aside and its ``then`` queued once ``meanwhile`` is done, so every host connects
meanwhile even when there are more hosts than forks. If ``meanwhile`` raises, the phase
still waits for the hosts (the sessions are then closed by the phase's clean-up) and raises
it; ``then`` does not run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

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
        self._lock = threading.Lock()
        self._prepared: bool | None = None  # None while ``meanwhile`` runs, then whether it succeeded
        self._set_aside: list[str] = []  # hosts ready for ``then`` before ``meanwhile`` was done

    def should_run(self, run: RunContext) -> bool:
        return bool(self.targets) or self.meanwhile is not None

    def run(self, run: RunContext) -> None:
        for host in self.targets:
            run.report.add_host(host)
        workers = max(1, min(run.options.forks, len(self.targets)))
        self._prepared, self._set_aside = None, []
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kprov-open") as pool:
            futures: list[Future[None]] = [pool.submit(self._open, run, h) for h in self.targets]
            prepared = False
            try:
                if self.meanwhile is not None:
                    self.meanwhile()
                prepared = True
            finally:
                with self._lock:
                    self._prepared, waiting = prepared, self._set_aside
                if prepared and self.then is not None:
                    futures += [pool.submit(self._then, run, h) for h in waiting]
                for future in futures:
                    future.result()

    dry_run = run

    def _open(self, run: RunContext, host: str) -> None:
        if not connect_host(run, host, defer=host not in self.gather):
            return
        if host in self.gather and run.hosts[host].alive:
            gather_host(run, host)
        if self.then is None:
            return
        with self._lock:
            if self._prepared is None:
                self._set_aside.append(host)
                return
            prepared = self._prepared
        if prepared:
            self._then(run, host)

    def _then(self, run: RunContext, host: str) -> None:
        if run.hosts[host].alive and self.then is not None:
            self.then(host)

    def cleanup(self, run: RunContext) -> None:
        DisconnectPhase().run(run)
