"""HTTP probes as upstream's prober: same-host redirects followed, a redirect elsewhere a success
with a warning (and a ProbeWarning event), failures an Unhealthy event. A real loopback server."""

from __future__ import annotations

import asyncio

from aiohttp import web

from kprov.cluster.kubelet.pods.probes import LIVENESS, Prober, ProbeTarget, ProbeWorker


async def _serve() -> tuple[web.AppRunner, int]:
    async def redirect(request: web.Request) -> web.Response:
        location = request.query["loc"]
        return web.Response(status=302, headers={"Location": location},
                            text=f'<a href="{location}">Found</a>.\n\n', content_type="text/html")

    async def sick(_request: web.Request) -> web.Response:
        return web.Response(status=500, text="sick")

    app = web.Application()
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/healthz", sick)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


def test_redirects_and_the_events_they_make() -> None:
    async def main() -> list[tuple[str, str, str]]:
        runner, port = await _serve()
        events: list[tuple[str, str, str]] = []
        try:
            target = ProbeTarget("c1", "127.0.0.1")
            for loc in ("http://0.0.0.0/", "/healthz"):
                probe = {"httpGet": {"path": f"/redirect?loc={loc}", "port": port}, "failureThreshold": 1}
                worker = ProbeWorker(LIVENESS, probe, target, Prober(runtime=None),  # type: ignore[arg-type]
                                     lambda *_: None, on_event=lambda *e: events.append(e))
                await worker.step()
                assert worker.state.result is (loc != "/healthz")  # the local one followed to a 500
        finally:
            await runner.cleanup()
        return events

    warned, failed = asyncio.run(main())
    assert warned == ("Warning", "ProbeWarning", "Liveness probe warning: Probe terminated redirects, "
                      'Response body: <a href="http://0.0.0.0/">Found</a>.\n\n')
    assert failed == ("Warning", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500")
