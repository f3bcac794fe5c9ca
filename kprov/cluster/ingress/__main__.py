"""kprov-ingress: flags, then the Ingress controller and its HAProxy (no leader election:
every node's instance serves traffic, see :mod:`.daemon`)."""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

from kprov.cluster.client.component import parse_bool, run_component
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.ingress.daemon import IngressDaemon, IngressOptions
from kprov.cluster.ingress.haproxy_config import ProxySettings
from kprov.cluster.ingress.presence import PresenceOptions

__all__ = ["build_parser", "main", "options_from"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kprov-ingress", description="Ingress controller: the "
                                     "cluster's Ingresses served by HAProxy on this node.")
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig with the ingress controller identity")
    parser.add_argument("--ingress-class", default="kprov", help="the IngressClass this controller serves")
    parser.add_argument("--controller-class", default="kprov.io/ingress",
                        help="spec.controller of the IngressClass (a class naming another is ignored)")
    parser.add_argument("--ensure-ingress-class", type=parse_bool, nargs="?", const=True, default=False,
                        help="create the IngressClass when it is missing")
    parser.add_argument("--default-ingress-class", type=parse_bool, nargs="?", const=True, default=False,
                        help="annotate the class it creates as the cluster's default")
    parser.add_argument("--gateway-controller-name", default="", metavar="DOMAIN/PATH",
                        help="serve the Gateway API for GatewayClasses naming this controller "
                        "(e.g. kprov.io/gateway-controller; empty: the Gateway API is off)")
    parser.add_argument("--ensure-gateway-crds", type=parse_bool, nargs="?", const=True, default=False,
                        help="create or upgrade kprov's Gateway API CRDs at start")
    parser.add_argument("--publish-service", default="", metavar="NAMESPACE/NAME",
                        help="copy this LoadBalancer Service's status into the Ingresses' status")
    parser.add_argument("--publish-address", default="", metavar="IP",
                        help="this instance's address: announced by a Lease, the live instances' "
                        "addresses are the Ingresses' status (without --publish-service)")
    parser.add_argument("--node-name", default=socket.gethostname(), help="names this instance's Lease")
    parser.add_argument("--default-ssl-certificate", default="", metavar="NAMESPACE/NAME",
                        help="TLS Secret served to unknown names (default: a self-signed certificate)")
    parser.add_argument("--state-dir", default="/var/lib/kprov/ingress",
                        help="HAProxy's files and certificates")
    parser.add_argument("--run-dir", default="/run/kprov-ingress", help="HAProxy's admin socket")
    parser.add_argument("--http-port", default=":80", metavar="[IP]:PORT", help="HAProxy's HTTP listener")
    parser.add_argument("--https-port", default=":443", metavar="[IP]:PORT", help="HAProxy's HTTPS listener")
    parser.add_argument("--disable-ipv6", type=parse_bool, nargs="?", const=True, default=False,
                        help="listen on IPv4 alone (default: listeners without an address take "
                             "IPv6 too when this host has it, as ingress-nginx's disable-ipv6)")
    parser.add_argument("--haproxy-monitor-address", default="127.0.0.1:10246",
                        help="HAProxy's own /healthz and Prometheus /metrics")
    parser.add_argument("--http-address", default="0.0.0.0:10254",
                        help="the controller's /healthz, /readyz, /metrics")
    parser.add_argument("--haproxy", default="haproxy", help="the HAProxy binary")
    parser.add_argument("--haproxy-threads", type=int, default=0, metavar="N",
                        help="HAProxy's threads; 0: half this host's CPUs, at least 1")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0)
    return parser


def ipv6_available() -> bool:
    """Whether this host can listen on IPv6 (a socket bound to ::1; ingress-nginx tries the same)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def default_threads() -> int:
    """Half the CPUs this process may run on, at least 1: the proxy leaves room for the pods."""
    return max(1, len(os.sched_getaffinity(0)) // 2)


def options_from(args: argparse.Namespace) -> IngressOptions:
    state = Path(args.state_dir)
    settings = ProxySettings(
        http_bind=args.http_port,
        https_bind=args.https_port,
        monitor_bind=args.haproxy_monitor_address,
        admin_socket=str(Path(args.run_dir) / "admin.sock"),
        default_certificate=str(state / "default.pem"),
        crt_list=str(state / "crt-list"),
        threads=args.haproxy_threads or default_threads(),
        ipv6=not args.disable_ipv6 and ipv6_available(),
    )
    return IngressOptions(
        class_name=args.ingress_class,
        controller_name=args.controller_class,
        ensure_class=args.ensure_ingress_class,
        default_class=args.default_ingress_class,
        publish_service=args.publish_service,
        presence=PresenceOptions(args.node_name, args.publish_address) if args.publish_address else None,
        default_ssl_certificate=args.default_ssl_certificate,
        state_dir=state,
        http_address=args.http_address,
        haproxy_binary=args.haproxy,
        settings=settings,
        gateway_controller_name=args.gateway_controller_name,
        ensure_gateway_crds=args.ensure_gateway_crds,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = options_from(args)
    args.leader_elect = False

    async def work(client: ApiClient) -> None:
        await IngressDaemon(client, options).run()

    # asyncio's own loop, as the kubelet and kube-proxy: uvloop stays a control-plane-only
    # dependency of the node runtime (HAProxy carries the traffic, this loop only watches)
    return run_component(args, "kprov-ingress", work)


if __name__ == "__main__":
    raise SystemExit(main())
