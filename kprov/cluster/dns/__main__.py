"""kprov-dns: flags, then the DNS daemon (no leader election: every replica answers)."""

from __future__ import annotations

import argparse
import socket

import uvloop

from kprov.cluster.client.component import parse_duration, run_component
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.dns.daemon import DnsDaemon, DnsOptions
from kprov.cluster.dns.forward import Forwarder, Upstream, parse_upstream
from kprov.cluster.dns.publish import PublishOptions
from kprov.cluster.dns.records import ZoneConfig
from kprov.cluster.dns.resolvconf import read_resolv_conf

__all__ = ["build_parser", "main", "upstreams_for"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kprov-dns", description="Cluster DNS: the Kubernetes DNS "
                                     "specification for the cluster domain, everything else forwarded.")
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig with the kube-dns identity")
    parser.add_argument("--listen", action="append", default=[], metavar="IP:PORT",
                        help="address to answer on, UDP and TCP (repeatable; default 0.0.0.0:53)")
    parser.add_argument("--http-address", default="0.0.0.0:9153", help="/healthz, /readyz, /metrics")
    parser.add_argument("--cluster-domain", default="cluster.local")
    parser.add_argument("--ttl", type=int, default=30, help="TTL of the zone's records, seconds")
    parser.add_argument("--pods", choices=["verified", "insecure", "disabled"], default="verified",
                        help="pod A records a-b-c-d.<ns>.pod.<zone>: only for existing pods (verified)")
    parser.add_argument("--resolv-conf", default="/etc/resolv.conf",
                        help="upstreams: this file's nameservers")
    parser.add_argument("--upstream", action="append", default=[], metavar="IP[:PORT]",
                        help="upstream resolver (repeatable); replaces --resolv-conf's nameservers")
    parser.add_argument("--upstream-timeout", type=parse_duration, default=2.0)
    parser.add_argument("--publish-address", default="",
                        help="publish this address as an endpoint of the kube-dns Service (the host's IP)")
    parser.add_argument("--node-name", default=socket.gethostname(), help="names the published EndpointSlice")
    parser.add_argument("--service-ip", default="",
                        help="create kube-system/kube-dns with this ClusterIP if it is missing")
    parser.add_argument("--lameduck", type=parse_duration, default=2.0,
                        help="after withdrawing its endpoint on stop, answer this long before closing")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0)
    return parser


def _listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host:
        raise SystemExit(f"kprov-dns: --listen {text!r}: want IP:PORT")
    return host.strip("[]"), int(port)


def upstreams_for(explicit: list[str], resolv_conf: str, listen: list[tuple[str, int]]) -> list[Upstream]:
    """The upstreams, minus any that is this server itself (a forwarding loop)."""
    ups = [parse_upstream(u) for u in explicit]
    if not ups:
        ups = [Upstream(ns) for ns in read_resolv_conf(resolv_conf).nameservers]
    own = {(h, p) for h, p in listen}
    wildcard_ports = {p for h, p in listen if h in ("0.0.0.0", "::")}
    return [u for u in ups if (u.host, u.port) not in own
            and not (u.port in wildcard_ports and u.host.startswith("127."))]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    listen = [_listen(a) for a in args.listen] or [("0.0.0.0", 53)]
    options = DnsOptions(
        listen=listen,
        http_address=args.http_address,
        zone=ZoneConfig(zone=args.cluster_domain.strip("."), ttl=args.ttl, pods=args.pods),
        forwarder=Forwarder(upstreams_for(args.upstream, args.resolv_conf, listen),
                            timeout=args.upstream_timeout),
        publish=PublishOptions(node_name=args.node_name, address=args.publish_address,
                               cluster_ip=args.service_ip) if args.publish_address else None,
        lameduck_s=args.lameduck,
    )
    args.leader_elect = False

    async def work(client: ApiClient) -> None:
        await DnsDaemon(client, options).run()

    return run_component(args, "kprov-dns", work, loop_factory=uvloop.new_event_loop)


if __name__ == "__main__":
    raise SystemExit(main())
