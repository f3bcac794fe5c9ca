"""kprov-metrics-server: metrics.k8s.io/v1beta1 behind an APIService, as metrics-server.

Flags, then: read the request-header settings the API server publishes
(kube-system/extension-apiserver-authentication), serve HTTPS, and keep the Service, this
host's EndpointSlice and the APIService published (:mod:`.register`) until stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
from pathlib import Path

import uvloop
from aiohttp import web

from kprov.cluster.client.resources import CONFIGMAPS
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.metrics_server import register
from kprov.cluster.metrics_server.auth import Authorizer, RequestHeaderConfig
from kprov.cluster.metrics_server.scrape import kubelet_client_ssl
from kprov.cluster.metrics_server.server import MetricsApp, serving_ssl

__all__ = ["build_parser", "main"]

log = logging.getLogger("kprov.metrics_server")
_RENEW_S = 15.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kprov-metrics-server", description=__doc__)
    parser.add_argument("--kubeconfig", required=True, help="its identity (system:kprov:metrics-server)")
    parser.add_argument("--bind-address", default="0.0.0.0")
    parser.add_argument("--secure-port", type=int, default=10251)
    parser.add_argument("--tls-cert-file", required=True)
    parser.add_argument("--tls-private-key-file", required=True)
    parser.add_argument("--tls-ca-file", required=True,
                        help="the CA of the serving cert (the APIService's caBundle)")
    parser.add_argument("--kubelet-client-certificate", default="")
    parser.add_argument("--kubelet-client-key", default="")
    parser.add_argument("--publish-address", default="",
                        help="this host's address in the Service's endpoints")
    parser.add_argument("--node-name", default=socket.gethostname())
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0)
    return parser


async def _requestheader(client: ApiClient) -> RequestHeaderConfig:
    while True:
        try:
            found = await client.get(CONFIGMAPS, "extension-apiserver-authentication", "kube-system")
            config = RequestHeaderConfig.from_configmap(found.get("data") or {})
            if config.client_ca:
                return config
            log.warning("extension-apiserver-authentication has no requestheader-client-ca-file yet")
        except Exception as exc:  # the API server not up yet
            log.warning("reading extension-apiserver-authentication: %s", exc)
        await asyncio.sleep(2)


async def run(args: argparse.Namespace) -> None:
    client = ApiClient.from_kubeconfig(args.kubeconfig, user_agent="kprov-metrics-server")
    requestheader = await _requestheader(client)
    app = MetricsApp(client, requestheader, Authorizer(client),
                     kubelet_client_ssl(args.kubelet_client_certificate, args.kubelet_client_key))
    runner = web.AppRunner(app.application(), access_log=None)
    await runner.setup()
    context = serving_ssl(args.tls_cert_file, args.tls_private_key_file, requestheader.client_ca)
    site = web.TCPSite(runner, args.bind_address, args.secure_port, ssl_context=context)
    await site.start()
    log.info("serving metrics.k8s.io/v1beta1 on https://%s:%d", args.bind_address, args.secure_port)
    registration = None
    if args.publish_address:
        registration = register.Registration(args.node_name, args.publish_address, args.secure_port,
                                             Path(args.tls_ca_file).read_bytes())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set():
            if registration is not None:
                await register.publish(client, registration)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_RENEW_S):
                    await stop.wait()
    finally:
        if registration is not None:
            await register.withdraw(client, registration)
        await runner.cleanup()
        await client.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbosity >= 2 else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
