"""``kprov-kubelet``: parse flags (the real kubelet's names where they exist) and run.

Example::

    kprov-kubelet --kubeconfig /etc/kprov/kubelet.conf --node-name h1 --node-ip 10.77.3.11 \\
        --container-runtime-endpoint unix:///run/containerd/containerd.sock \\
        --tls-cert-file /etc/kprov/pki/kubelet.crt --tls-private-key-file /etc/kprov/pki/kubelet.key \\
        --client-ca-file /etc/kprov/pki/ca.crt --node-labels role=worker

Stopping the kubelet (SIGTERM) leaves pods running; a restarted kubelet adopts them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from kprov.cluster import collector
from kprov.cluster.kubelet.node.registration import KUBELET_PORT, parse_labels, parse_taints

if TYPE_CHECKING:
    from kprov.cluster.client import ApiClient

__all__ = ["main", "parse_args"]


def _flag_bool(text: str) -> bool:
    if text.lower() in ("true", "1", "t"):
        return True
    if text.lower() in ("false", "0", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def parse_node_ips(text: str) -> tuple[str, ...]:
    """--node-ip: one address, or a dual-stack pair (one per family, the primary first), as
    upstream's ParseNodeIPArgument accepts it."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for part in text.split(","):
        try:
            found.append(ipaddress.ip_address(part.strip()))
        except ValueError:
            raise argparse.ArgumentTypeError(f"could not parse {part.strip()!r}") from None
    if len(found) > 2 or (len(found) == 2 and found[0].version == found[1].version):
        raise argparse.ArgumentTypeError("must contain either a single IP or a dual-stack pair of IPs")
    return tuple(str(ip) for ip in found)


def _unit_ports(text: str) -> tuple[str, tuple[int, ...]]:
    unit, sep, ports = text.partition("=")
    try:
        numbers = tuple(int(p) for p in ports.split(",") if p.strip())
    except ValueError:
        numbers = ()
    if not sep or not unit.strip() or not numbers or not all(0 < p < 65536 for p in numbers):
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected UNIT=PORT[,PORT...], e.g. kprov-ingress.service=80,443")
    return unit.strip(), numbers


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="kprov-kubelet", description="Run the pods bound to this node via CRI.")
    p.add_argument("--kubeconfig", required=True)
    p.add_argument("--hostname-override", "--node-name", dest="node_name", default=socket.gethostname())
    p.add_argument("--node-ip", required=True, type=parse_node_ips,
                   help="the node's InternalIP (also the pods' hostIP); dual-stack: one per family, v4,v6")
    p.add_argument("--container-runtime-endpoint", default="unix:///run/containerd/containerd.sock")
    p.add_argument("--tls-cert-file", default="")
    p.add_argument("--tls-private-key-file", default="")
    p.add_argument("--client-ca-file", default="")
    p.add_argument("--rotate-certificates", type=_flag_bool, nargs="?", const=True, default=False,
                   help="renew the client certificate through kube-apiserver-client-kubelet CSRs")
    p.add_argument("--rotate-server-certificates", type=_flag_bool, nargs="?", const=True, default=False,
                   help="get and renew the serving certificate through kubelet-serving CSRs")
    p.add_argument("--protect-kernel-defaults", type=_flag_bool, nargs="?", const=True, default=False,
                   help="refuse to start when the kernel's settings differ from what the kubelet expects")
    p.add_argument("--cert-dir", default="", help="where rotated certificates live (default: <root-dir>/pki)")
    p.add_argument("--node-labels", default="", help="key=value,key2=value2")
    p.add_argument("--register-with-taints", default="", help="key=value:Effect,...")
    p.add_argument("--root-dir", default="/var/lib/kprov/kubelet")
    p.add_argument("--pod-log-dir", default="/var/log/pods")
    p.add_argument(
        "--local-volumes-dir",
        default="/var/lib/kprov/volumes",
        help="where local-path volumes live; directories of deleted volumes are removed",
    )
    p.add_argument(
        "--pod-infra-container-image",
        default="",
        help="informational: the sandbox image is set in containerd's CRI config",
    )
    p.add_argument("--cluster-dns", default="", help="comma-separated DNS server IPs for ClusterFirst pods")
    p.add_argument("--cluster-domain", default="cluster.local")
    p.add_argument("--resolv-conf", default="/etc/resolv.conf",
                   help="the host's resolver config: Default pods get it, ClusterFirst ones its search")
    p.add_argument("--address", default="0.0.0.0")
    p.add_argument("--port", type=int, default=KUBELET_PORT)
    p.add_argument("--seccomp-default", action="store_true",
                   help="RuntimeDefault seccomp for every container whose pod names no profile")
    p.add_argument("--allowed-unsafe-sysctls", default="",
                   help="comma-separated sysctl names or prefixes ending in * allowed beyond the safe set")
    p.add_argument("--publish-host-services", action="store_true",
                   help="mirror pods in kube-system for this host's kprov units (kube-apiserver-<node>, ...)")
    p.add_argument("--host-service-ports", action="append", default=[], type=_unit_ports,
                   metavar="UNIT=PORT[,PORT...]",
                   help="host ports a kprov unit holds, declared on its mirror pod (repeatable)")
    p.add_argument("--ctr", default="ctr", help="ctr binary used for interactive exec")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


async def _run(args: argparse.Namespace) -> None:
    collector.settle()
    if args.protect_kernel_defaults:
        from kprov.cluster.kubelet.node.kernel_tunables import kernel_problems

        problems = kernel_problems()
        if problems:
            raise ValueError("; ".join(problems))
    from kprov.cluster.client import ApiClient
    from kprov.cluster.kubelet.cri.client import CRIClient
    from kprov.cluster.kubelet.kubelet import Kubelet, KubeletConfig

    config = KubeletConfig(
        node_name=args.node_name,
        node_ip=args.node_ip[0],
        node_ips=args.node_ip,
        kubeconfig=args.kubeconfig,
        runtime_endpoint=args.container_runtime_endpoint,
        tls_cert_file=args.tls_cert_file,
        tls_private_key_file=args.tls_private_key_file,
        client_ca_file=args.client_ca_file,
        node_labels=parse_labels(args.node_labels),
        taints=parse_taints(args.register_with_taints),
        root_dir=args.root_dir,
        pod_log_root=args.pod_log_dir,
        cluster_dns=tuple(x for x in args.cluster_dns.split(",") if x),
        cluster_domain=args.cluster_domain,
        resolv_conf=args.resolv_conf,
        address=args.address,
        port=args.port,
        ctr_path=args.ctr,
        local_volumes_dir=args.local_volumes_dir,
        seccomp_default=args.seccomp_default,
        allowed_unsafe_sysctls=tuple(x.strip() for x in args.allowed_unsafe_sysctls.split(",") if x.strip()),
        rotate_server_certificates=args.rotate_server_certificates,
        cert_dir=args.cert_dir,
        publish_host_services=args.publish_host_services,
        host_service_ports=tuple(args.host_service_ports),
    )
    client = ApiClient.from_kubeconfig(args.kubeconfig, user_agent=f"kprov-kubelet/{args.node_name}")
    rotation = await _client_rotation(client, args) if args.rotate_certificates else None
    runtime = CRIClient(args.container_runtime_endpoint)
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: task.cancel() if task else None)
    try:
        await Kubelet(config, client, runtime).run()
    finally:
        if rotation is not None:
            rotation.cancel()
        await client.close()
        await runtime.close()


async def _client_rotation(client: ApiClient, args: argparse.Namespace) -> asyncio.Task[None]:
    """Start from <cert-dir>'s current client certificate when it outlives the kubeconfig's,
    then keep it renewed through CSRs (the kubelet's --rotate-certificates)."""
    from cryptography import x509

    from kprov.cluster.kubelet.node.cert_rotation import CertificateRotator, client_spec, load_current

    cert_dir = Path(args.cert_dir or Path(args.root_dir) / "pki")
    given = client.config.cert_pem
    if not given:
        raise ValueError("--rotate-certificates needs a client certificate in the kubeconfig")
    current = load_current(cert_dir, "client")
    if current is not None and (
        x509.load_pem_x509_certificate(current[0]).not_valid_after_utc
        > x509.load_pem_x509_certificate(given).not_valid_after_utc
    ):
        await client.use_client_certificate(*current)
    assert client.config.cert_pem is not None
    rotator = CertificateRotator(
        client, client_spec(args.node_name), cert_dir, client.config.cert_pem, client.use_client_certificate
    )
    return asyncio.create_task(rotator.run())


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(_run(args))
    except ValueError as err:
        sys.exit(f"kprov-kubelet: {err}")
    except asyncio.CancelledError:
        pass
    with contextlib.suppress(Exception):
        logging.shutdown()


if __name__ == "__main__":
    main()
