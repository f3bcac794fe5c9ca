"""The HAProxy process kprov-ingress owns: check, start, seamless reload, stop.

HAProxy runs as a child in master-worker mode (``-W``) in the foreground (``-db``), with
its output going to the unit's journal (the access log). A reload is SIGUSR2 to the
master: it re-executes itself on the new file, and because the configuration's admin
socket carries ``expose-fd listeners`` the new worker takes the listening sockets over
from the old one (HAProxy's ``-x``, done by the master itself), so no connection attempt
is refused; the old worker finishes the connections it has (at most ``hard-stop-after``).
Every file is checked with ``haproxy -c`` first: a configuration HAProxy refuses is never
loaded, and the old one goes on serving. If the master dies, :meth:`HAProxy.wait` returns
and kprov-ingress exits, for systemd to restart the whole unit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

__all__ = ["HAProxy", "HAProxyError"]

log = logging.getLogger(__name__)


class HAProxyError(Exception):
    """HAProxy refused a configuration (the message is its own output)."""


class HAProxy:
    def __init__(self, config_path: str, binary: str = "haproxy") -> None:
        self.config_path = config_path
        self.binary = binary
        self.process: asyncio.subprocess.Process | None = None
        self.reloads = 0

    async def check(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            self.binary, "-c", "-q", "-f", self.config_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await proc.communicate()
        if proc.returncode != 0:
            raise HAProxyError(output.decode(errors="replace").strip())

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def apply(self) -> None:
        """Check the file on disk, then start HAProxy on it or reload the running one."""
        await self.check()
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGUSR2)
            self.reloads += 1
            return
        self.process = await asyncio.create_subprocess_exec(self.binary, "-W", "-db", "-f", self.config_path)
        log.info("haproxy started (master pid %d)", self.process.pid)

    async def wait(self) -> int:
        """Until the master exits (never, normally); its exit status."""
        while self.process is None:
            await asyncio.sleep(0.5)
        return await self.process.wait()

    async def stop(self, grace: float = 10.0) -> None:
        """Soft stop (SIGUSR1: finish the open connections), then SIGTERM after ``grace``."""
        if not self.running:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGUSR1)
        try:
            await asyncio.wait_for(self.process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            await self.process.wait()
