"""kprov-proxy's health endpoint (``GET /healthz`` on port 10256), as kube-proxy's.

Healthy (200) while no change has been waiting for more than ``stale_after`` seconds to be
applied; 503 otherwise (e.g. nft keeps failing, or the first sync never happened). The body
is JSON with ``lastUpdated`` and ``currentTime``, the fields kube-proxy reports.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from aiohttp import web

__all__ = ["HealthState", "start_healthz"]


@dataclass
class HealthState:
    stale_after: float = 60.0
    pending_since: float | None = None  # monotonic time of the oldest unapplied change
    last_updated: float = 0.0  # wall-clock time of the last successful sync

    def queued(self) -> None:
        if self.pending_since is None:
            self.pending_since = time.monotonic()

    def synced(self) -> None:
        self.pending_since = None
        self.last_updated = time.time()

    def healthy(self) -> bool:
        if self.last_updated == 0.0 and self.pending_since is None:
            return False
        return self.pending_since is None or time.monotonic() - self.pending_since < self.stale_after


def _stamp(value: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(value)) if value else ""


async def start_healthz(state: HealthState, address: str) -> web.AppRunner:
    host, _, port = address.rpartition(":")

    async def healthz(_: web.Request) -> web.Response:
        body = json.dumps({"lastUpdated": _stamp(state.last_updated), "currentTime": _stamp(time.time())})
        return web.Response(
            text=body, status=200 if state.healthy() else 503, content_type="application/json"
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/livez", healthz)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host or "0.0.0.0", int(port), reuse_address=True).start()
    return runner
