"""kprov-controller-manager: flags, then the controllers under leader election."""

from __future__ import annotations

import argparse

from prometheus_client import CollectorRegistry

from kprov.cluster.client.component import add_common_flags, parse_bool, parse_duration, run_component
from kprov.cluster.client.metrics import WorkQueueCollector
from kprov.cluster.client.rest import ApiClient
from kprov.cluster.client.secure_serving import add_secure_serving_flags
from kprov.cluster.controllers.base import ControllerOptions
from kprov.cluster.controllers.identity.sa_credentials import ControllerCredentials
from kprov.cluster.controllers.manager import CONTROLLERS, ControllerManager, select_controllers

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kprov-controller-manager", description="Runs the cluster's reconcilers (one active replica)."
    )
    add_common_flags(parser, lease_name="kube-controller-manager")
    parser.add_argument(
        "--controllers",
        default="*",
        help=f"'*' for all, 'name' to add, '-name' to remove; known: {','.join(CONTROLLERS)}",
    )
    parser.add_argument("--cluster-cidr", default="10.244.0.0/16")
    parser.add_argument("--node-cidr-mask-size", type=int, default=0,
                        help="single-stack clusters only (default: 24 for IPv4, 64 for IPv6)")
    parser.add_argument("--node-cidr-mask-size-ipv4", type=int, default=0, help="default 24")
    parser.add_argument("--node-cidr-mask-size-ipv6", type=int, default=0, help="default 64")
    parser.add_argument("--allocate-node-cidrs", type=parse_bool, nargs="?", const=True, default=True)
    parser.add_argument("--node-monitor-grace-period", type=parse_duration, default=40.0)
    parser.add_argument("--node-monitor-period", type=parse_duration, default=5.0)
    parser.add_argument(
        "--pod-eviction-timeout",
        "--default-not-ready-toleration-seconds",
        "--default-unreachable-toleration-seconds",
        dest="default_toleration_seconds",
        type=parse_duration,
        default=300.0,
        help="how long pods without their own toleration stay on an unreachable node",
    )
    parser.add_argument("--root-ca-file", default="", help="CA published as kube-root-ca.crt everywhere")
    parser.add_argument("--service-account-private-key-file", default="", help="signs legacy token Secrets")
    parser.add_argument(
        "--default-storage-class",
        default="",
        help="create this local-path StorageClass as the cluster default when it is missing",
    )
    parser.add_argument(
        "--horizontal-pod-autoscaler-downscale-stabilization",
        dest="hpa_downscale_stabilization",
        type=parse_duration,
        default=300.0,
        help="how long a scale-down waits for lower recommendations (the window's highest wins)",
    )
    parser.add_argument(
        "--loadbalancer-address-pools",
        default="",
        help="CIDRs or first-last ranges (comma-separated) for LoadBalancer Services; none: node addresses",
    )
    parser.add_argument("--cluster-signing-cert-file", default="", help="the CA csrsigning signs with")
    parser.add_argument("--cluster-signing-key-file", default="", help="its private key")
    parser.add_argument(
        "--cluster-signing-duration", type=parse_duration, default=365 * 24 * 3600.0,
        help="the longest certificate csrsigning issues (a request's expirationSeconds may shorten it)",
    )
    parser.add_argument(
        "--use-service-account-credentials",
        type=parse_bool,
        nargs="?",
        const=True,
        default=False,
        help="each controller acts as ServiceAccount kube-system/<its name> (role system:controller:<name>)",
    )
    parser.add_argument("--concurrent-workers", type=int, default=4, help="workers per controller")
    add_secure_serving_flags(parser, upstream_port=10257)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        names = select_controllers(args.controllers)
    except ValueError as exc:
        parser.error(str(exc))
    options = ControllerOptions(
        cluster_cidr=args.cluster_cidr,
        node_cidr_mask_size=args.node_cidr_mask_size,
        node_cidr_mask_size_ipv4=args.node_cidr_mask_size_ipv4,
        node_cidr_mask_size_ipv6=args.node_cidr_mask_size_ipv6,
        allocate_node_cidrs=args.allocate_node_cidrs,
        node_monitor_grace_period=args.node_monitor_grace_period,
        node_monitor_period=args.node_monitor_period,
        default_toleration_seconds=args.default_toleration_seconds,
        workers=args.concurrent_workers,
        root_ca_file=args.root_ca_file,
        service_account_private_key_file=args.service_account_private_key_file,
        default_storage_class=args.default_storage_class,
        hpa_downscale_stabilization=args.hpa_downscale_stabilization,
        loadbalancer_address_pools=args.loadbalancer_address_pools,
        cluster_signing_cert_file=args.cluster_signing_cert_file,
        cluster_signing_key_file=args.cluster_signing_key_file,
        cluster_signing_duration=args.cluster_signing_duration,
    )

    running: list[ControllerManager] = []  # the queues /metrics reports, once leading
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WorkQueueCollector(lambda: [c.queue for m in running for c in m.controllers]))

    async def work(client: ApiClient) -> None:
        credentials = ControllerCredentials(client) if args.use_service_account_credentials else None
        manager = ControllerManager(client, names, options, credentials)
        running.append(manager)
        await manager.run()

    return run_component(args, "kprov-controller-manager", work, registry=registry)


if __name__ == "__main__":
    raise SystemExit(main())
