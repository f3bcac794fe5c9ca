"""kprov-proxy: flags, then the proxy loop (no leader election: one per node)."""

from __future__ import annotations

import argparse
import ipaddress
import socket
from pathlib import Path

from kprov.cluster.client.component import parse_bool, parse_duration, run_component
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.proxy.daemon import ProxyDaemon, ProxyOptions

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kprov-proxy",
        description="Programs this node's nftables rules for Services and NetworkPolicies.",
    )
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig with the kube-proxy identity")
    parser.add_argument("--hostname-override", default="", help="this node's name (default: hostname)")
    parser.add_argument("--node-ip", default="",
                        help="this node's address(es), comma-separated, one per family on a dual-stack node")
    parser.add_argument("--healthz-bind-address", default="0.0.0.0:10256")
    parser.add_argument("--metrics-bind-address", default="127.0.0.1:10249",
                        help="where /metrics is served over plain HTTP (port 0: off)")
    parser.add_argument("--cluster-cidr", default="",
                        help="pod CIDR(s) of the cluster, e.g. 10.244.0.0/16,fd00:10:244::/56 (dual-stack)")
    parser.add_argument("--backend", "--proxy-mode", dest="backend", default="nftables",
                        choices=["nftables", "iptables"])
    parser.add_argument("--sync-period", type=parse_duration, default=30.0)
    parser.add_argument("--min-sync-period", type=parse_duration, default=0.05)
    parser.add_argument("--cni-conf-dir", default="",
                        help="write the CNI conflist for this node's podCIDR here (e.g. /etc/cni/net.d)")
    parser.add_argument("--manage-routes", type=parse_bool, nargs="?", const=True, default=False,
                        help="route other nodes' pod CIDRs through their node IPs (vxlan off-subnet)")
    parser.add_argument("--network-policy", type=parse_bool, nargs="?", const=True, default=False,
                        help="enforce NetworkPolicies on this node (table ip kprov-netpol)")
    parser.add_argument("--log-dropped-packets", type=parse_bool, nargs="?", const=True, default=False,
                        help="log packets NetworkPolicies drop (kernel log, debug level)")
    parser.add_argument("--announce-load-balancer-ips", type=parse_bool, nargs="?", const=True, default=False,
                        help="answer ARP for LoadBalancer addresses this node wins the Lease of (layer 2)")
    parser.add_argument("--state-dir", default="/run/kprov-proxy",
                        help="where the announced addresses are recorded (removed on the next start)")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.backend == "iptables":
        raise SystemExit("kprov-proxy: --backend iptables is not implemented; use --backend nftables")
    node_ips = tuple(ip for ip in args.node_ip.split(",") if ip)
    for ip in node_ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise SystemExit(f"kprov-proxy: --node-ip: {ip!r} is not an IP address") from None
    for cidr in (c for c in args.cluster_cidr.split(",") if c):
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            raise SystemExit(f"kprov-proxy: --cluster-cidr: {cidr!r} is not a CIDR") from None
    if args.manage_routes and not node_ips:
        raise SystemExit("kprov-proxy: --manage-routes needs --node-ip")
    options = ProxyOptions(
        hostname=args.hostname_override or socket.gethostname(),
        node_ips=node_ips,
        cluster_cidr=args.cluster_cidr,
        healthz_address=args.healthz_bind_address,
        metrics_address=args.metrics_bind_address,
        sync_period=args.sync_period,
        min_sync_period=args.min_sync_period,
        cni_conf_dir=Path(args.cni_conf_dir) if args.cni_conf_dir else None,
        manage_routes=args.manage_routes,
        network_policy=args.network_policy,
        log_dropped_packets=args.log_dropped_packets,
        announce_load_balancer_ips=args.announce_load_balancer_ips,
        state_dir=Path(args.state_dir),
    )
    args.leader_elect = False

    async def work(client: ApiClient) -> None:
        await ProxyDaemon(client, options).run()

    return run_component(args, "kprov-proxy", work)


if __name__ == "__main__":
    raise SystemExit(main())
