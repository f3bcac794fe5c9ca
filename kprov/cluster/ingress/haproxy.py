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

A reload is confirmed, not assumed: :func:`stamp` writes the file's own digest as the
global ``description``, which the admin socket's ``show info`` reports for the worker
that serves; :meth:`HAProxy.apply` waits until it names the new file, signals the master
again once if it does not, and raises :class:`ReloadNotTaken` if it still does not (the
caller tries again). A signal lost while the master re-executed left a worker serving an
older file with nothing to notice it (a backend without its new pod answered 503 for a
minute in a CI run).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import signal
import time

__all__ = ["HAProxy", "HAProxyError", "ReloadNotTaken", "stamp"]

log = logging.getLogger(__name__)


class HAProxyError(Exception):
    """HAProxy refused a configuration (the message is its own output)."""


class ReloadNotTaken(Exception):
    """HAProxy's worker still serves an older file after a reload (and one more signal)."""


def stamp(config: str) -> tuple[str, str]:
    """``config`` with its digest as the global section's ``description``, and that digest
    ("" when the text has no global section to carry it)."""
    head, sep, rest = config.partition("\nglobal\n")
    if not sep:
        return config, ""
    digest = "kprov-ingress-" + hashlib.sha256(config.encode()).hexdigest()[:16]
    return f"{head}{sep}    description {digest}\n{rest}", digest


class HAProxy:
    def __init__(self, config_path: str, binary: str = "haproxy", admin_socket: str = "",
                 confirm_s: float = 10.0) -> None:
        self.config_path = config_path
        self.binary = binary
        self.admin_socket = admin_socket  # "" : reloads are not confirmed
        self.confirm_s = confirm_s
        self.process: asyncio.subprocess.Process | None = None
        self.reloads = 0

    async def serving(self) -> str:
        """The ``description`` of the configuration the serving worker loaded ("" if the
        admin socket does not answer)."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(self.admin_socket), 2.0)
        except (OSError, TimeoutError):
            return ""
        try:
            writer.write(b"show info\n")
            await writer.drain()
            data = await asyncio.wait_for(reader.read(), 2.0)
        except (OSError, TimeoutError):
            return ""
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        for line in data.decode(errors="replace").splitlines():
            if line.startswith("description:"):
                return line.partition(":")[2].strip()
        return ""

    async def _confirm(self, digest: str, reloaded: bool) -> None:
        began = time.monotonic()
        signalled_again = False
        while (elapsed := time.monotonic() - began) < self.confirm_s:
            if await self.serving() == digest:
                return
            if not self.running:
                return  # the master is gone: wait() reports it
            if not signalled_again and elapsed >= self.confirm_s / 3 and reloaded:
                assert self.process is not None
                log.warning("haproxy has not loaded %s %.1fs after the reload: signalling again",
                            digest, elapsed)
                self.process.send_signal(signal.SIGUSR2)
                signalled_again = True
            await asyncio.sleep(0.1)
        raise ReloadNotTaken(f"haproxy still serves {await self.serving() or 'an unknown configuration'}, "
                             f"not {digest}, {self.confirm_s:.0f}s after the reload")

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

    async def apply(self, digest: str = "") -> None:
        """Check the file on disk, then start HAProxy on it or reload the running one; with
        the file's ``digest`` (:func:`stamp`) and an admin socket, return once it serves it."""
        await self.check()
        reloaded = self.running
        if reloaded:
            assert self.process is not None
            self.process.send_signal(signal.SIGUSR2)
            self.reloads += 1
        else:
            self.process = await asyncio.create_subprocess_exec(self.binary, "-W", "-db", "-f",
                                                                self.config_path)
            log.info("haproxy started (master pid %d)", self.process.pid)
        if digest and self.admin_socket:
            await self._confirm(digest, reloaded)

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
