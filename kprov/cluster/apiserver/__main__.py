"""``kprov-apiserver``: the Kubernetes API over etcd. Flags mirror kube-apiserver's."""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
import subprocess
import sys

import uvloop

from kprov.cluster.api.runtime_config import parse as parse_runtime_config
from kprov.cluster.apiserver.config import ServerConfig
from kprov.cluster.apiserver.front.heap import tune_glibc_heap
from kprov.cluster.apiserver.server import run_server
from kprov.cluster.storage import EtcdConfig

__all__ = ["main", "parse_args"]


def _go_bool(text: str) -> bool:
    """A flag's boolean as Go's strconv.ParseBool reads it."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def _port_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(p) for p in text.split("-", 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--service-node-port-range: expected LOW-HIGH, got {text!r}"
        ) from None
    if not 0 < low <= high < 65536:
        raise argparse.ArgumentTypeError(f"--service-node-port-range: {text!r} is not a valid port range")
    return low, high


def _duration_s(text: str) -> float:
    """A Go duration as the flag takes it (``5s``, ``1m30s``, ``500ms``, ``0``) in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)", text)
    if text.strip() in ("0", "") or not parts or "".join(n + u for n, u in parts) != text.strip():
        if text.strip() in ("0", ""):
            return 0.0
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (examples: 5s, 1m30s, 500ms)")
    return sum(float(n) * units[u] for n, u in parts)


def parse_args(argv: list[str] | None = None) -> ServerConfig:
    parser = argparse.ArgumentParser(prog="kprov-apiserver", description=__doc__)
    parser.add_argument("--etcd-servers", required=True, help="comma-separated etcd client URLs")
    parser.add_argument("--etcd-cafile", default="")
    parser.add_argument("--etcd-certfile", default="")
    parser.add_argument("--etcd-keyfile", default="")
    parser.add_argument("--tls-cert-file", required=True)
    parser.add_argument("--tls-private-key-file", required=True)
    parser.add_argument("--client-ca-file", required=True)
    parser.add_argument("--kubelet-client-certificate", default="")
    parser.add_argument("--kubelet-client-key", default="")
    parser.add_argument(
        "--kubelet-certificate-authority", default="",
        help="CA the kubelets' serving certificates must chain to (none: they are not verified)",
    )
    parser.add_argument("--bind-address", default="0.0.0.0")
    parser.add_argument("--secure-port", type=int, default=6443)
    parser.add_argument("--advertise-address", default="127.0.0.1")
    parser.add_argument("--service-cluster-ip-range", default="10.96.0.0/12")
    parser.add_argument("--service-node-port-range", type=_port_range, default=(30000, 32767))
    parser.add_argument("--encryption-provider-config", default="")
    parser.add_argument(
        "--service-account-key-file",
        action="append",
        default=[],
        help="PEM key verifying ServiceAccount tokens (repeatable; default: the signing key)",
    )
    parser.add_argument("--service-account-signing-key-file", default="", help="private key signing tokens")
    parser.add_argument("--service-account-issuer", default="https://kubernetes.default.svc.cluster.local")
    parser.add_argument("--api-audiences", default="", help="comma-separated (default: the issuer)")
    parser.add_argument(
        "--insecure-debug-port",
        type=int,
        default=0,
        help="ALSO serve plain HTTP on 127.0.0.1:PORT as system:masters (debugging only)",
    )
    parser.add_argument(
        "--watch-cache-size",
        type=int,
        default=100_000,
        help="recent events kept for watches from an older resourceVersion (older: 410)",
    )
    parser.add_argument(
        "--endpoint-lease-ttl-seconds",
        type=int,
        default=15,
        help="how long a stopped API server stays in the kubernetes Service's Endpoints",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API server processes sharing the port (each with its own watch cache)",
    )
    parser.add_argument(
        "--shutdown-delay-duration",
        type=_duration_s,
        default=0.0,
        help="on SIGTERM, keep serving this long (e.g. 5s) with /readyz failing, so load balancers drain",
    )
    parser.add_argument("--audit-policy-file", default="", help="audit.k8s.io/v1 Policy (YAML)")
    parser.add_argument("--audit-log-path", default="", help="audit events as JSON lines here ('-': stdout)")
    parser.add_argument("--audit-log-maxsize", type=int, default=0, help="megabytes before rotating")
    parser.add_argument("--audit-log-maxbackup", type=int, default=0, help="rotated files kept (0: all)")
    parser.add_argument("--audit-log-maxage", type=int, default=0,
                        help="days a rotated file is kept, by the time in its name (0: no limit)")
    parser.add_argument(
        "--enable-priority-and-fairness",
        type=_go_bool,
        nargs="?",
        const=True,
        default=True,
        help="API Priority and Fairness (default true; =false to switch it off)",
    )
    parser.add_argument("--max-requests-inflight", type=int, default=400,
                        help="with --max-mutating-requests-inflight: the seats APF shares out")
    parser.add_argument("--max-mutating-requests-inflight", type=int, default=200)
    parser.add_argument(
        "--disable-metrics",
        action="store_true",
        help="no /metrics and no request metrics (kprov's own: to measure what they cost)",
    )
    parser.add_argument(
        "--disable-admission-plugins",
        default="",
        help="comma-separated admission plugins to switch off (ServiceAccount: for servers with no "
        "controller manager making each namespace's default account)",
    )
    parser.add_argument(
        "--admission-control-config-file",
        default="",
        help="AdmissionConfiguration (apiserver.config.k8s.io/v1): the PodSecurity plugin's configuration",
    )
    parser.add_argument(
        "--runtime-config",
        default="",
        help="comma-separated group/version=true|false (and api/all, api/beta, ...) turning on "
        "the group-versions that are off by default, e.g. admissionregistration.k8s.io/v1beta1=true",
    )
    parser.add_argument("--proxy-client-cert-file", default="",
                        help="client certificate presented to the servers behind APIServices")
    parser.add_argument("--proxy-client-key-file", default="")
    parser.add_argument("--requestheader-client-ca-file", default="",
                        help="the CA of --proxy-client-cert-file (published for extension API servers)")
    parser.add_argument("--requestheader-allowed-names", default="", help="comma-separated common names")
    parser.add_argument("--requestheader-username-headers", default="X-Remote-User")
    parser.add_argument("--requestheader-group-headers", default="X-Remote-Group")
    parser.add_argument("--requestheader-extra-headers-prefix", default="X-Remote-Extra-")
    parser.add_argument("--v", type=int, default=0, help="log verbosity (0-1 info, 2 debug)")
    args = parser.parse_args(argv)
    try:
        runtime_config = parse_runtime_config(args.runtime_config)
    except ValueError as exc:
        parser.error(f"--runtime-config: {exc}")
    logging.basicConfig(
        # start-up, warnings and errors at --v=0 (journald keeps them), details from --v=2
        level=[logging.INFO, logging.INFO, logging.DEBUG][min(args.v, 2)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    etcd = EtcdConfig(
        servers=[s.strip() for s in args.etcd_servers.split(",") if s.strip()],
        cafile=args.etcd_cafile or None,
        certfile=args.etcd_certfile or None,
        keyfile=args.etcd_keyfile or None,
    )
    return ServerConfig(
        etcd=etcd,
        tls_cert_file=args.tls_cert_file,
        tls_key_file=args.tls_private_key_file,
        client_ca_file=args.client_ca_file,
        kubelet_client_cert=args.kubelet_client_certificate,
        kubelet_client_key=args.kubelet_client_key,
        kubelet_certificate_authority=args.kubelet_certificate_authority,
        bind_address=args.bind_address,
        secure_port=args.secure_port,
        advertise_address=args.advertise_address,
        service_cluster_ip_range=args.service_cluster_ip_range,
        service_node_port_range=args.service_node_port_range,
        encryption_provider_config=args.encryption_provider_config,
        service_account_key_files=tuple(args.service_account_key_file),
        service_account_signing_key_file=args.service_account_signing_key_file,
        service_account_issuer=args.service_account_issuer,
        api_audiences=tuple(a.strip() for a in args.api_audiences.split(",") if a.strip()),
        insecure_port=args.insecure_debug_port,
        watch_cache_capacity=args.watch_cache_size,
        endpoint_lease_ttl_s=max(1, args.endpoint_lease_ttl_seconds),
        workers=max(1, args.workers),
        disable_admission_plugins=tuple(
            p.strip() for p in args.disable_admission_plugins.split(",") if p.strip()
        ),
        admission_control_config_file=args.admission_control_config_file,
        runtime_config=runtime_config,
        shutdown_delay_s=args.shutdown_delay_duration,
        metrics=not args.disable_metrics,
        enable_priority_and_fairness=args.enable_priority_and_fairness,
        max_requests_inflight=max(0, args.max_requests_inflight),
        max_mutating_requests_inflight=max(0, args.max_mutating_requests_inflight),
        audit_policy_file=args.audit_policy_file,
        audit_log_path=args.audit_log_path,
        audit_log_maxsize_mb=max(0, args.audit_log_maxsize),
        audit_log_maxbackup=max(0, args.audit_log_maxbackup),
        audit_log_maxage_days=max(0, args.audit_log_maxage),
        proxy_client_cert_file=args.proxy_client_cert_file,
        proxy_client_key_file=args.proxy_client_key_file,
        requestheader_client_ca_file=args.requestheader_client_ca_file,
        requestheader_allowed_names=_csv(args.requestheader_allowed_names),
        requestheader_username_headers=_csv(args.requestheader_username_headers),
        requestheader_group_headers=_csv(args.requestheader_group_headers),
        requestheader_extra_headers_prefix=_csv(args.requestheader_extra_headers_prefix),
    )


def _csv(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def _run_workers(config: ServerConfig, argv: list[str]) -> None:
    """Start ``workers`` copies of this server on the same port; stop them all on SIGTERM."""
    children = [
        subprocess.Popen([sys.executable, "-m", "kprov.cluster.apiserver", *argv, "--worker-of-pool"])
        for _ in range(config.workers)
    ]

    def stop(*_: object) -> None:
        for child in children:
            child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    codes = [child.wait() for child in children]
    if any(codes) and not all(c in (0, -signal.SIGTERM) for c in codes):
        raise SystemExit(1)


def main(argv: list[str] | None = None) -> None:
    raw = list(sys.argv[1:] if argv is None else argv)
    in_pool = "--worker-of-pool" in raw
    config = parse_args([a for a in raw if a != "--worker-of-pool"])
    if config.workers > 1 and not in_pool:
        _run_workers(config, raw)
        return
    tune_glibc_heap()  # large blocks in their own mappings, returned when freed
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run_server(config))
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        print(f"kprov-apiserver: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
