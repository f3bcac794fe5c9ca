"""API server configuration: :class:`ServerConfig`, and the command-line flags that fill it,
grouped by concern as kube-apiserver's ``--help`` groups them.

Design: each :class:`FlagGroup` declares its flags (argparse, with kube-apiserver's names,
defaults and parsing) and reads them into the configuration fields it owns, so a flag and
the field it sets sit together and ``parse_args`` only walks :data:`FLAG_GROUPS`. A value
upstream refuses is an argparse error (exit 2, the flag named), as before.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kprov.cluster.api.runtime_config import parse as parse_runtime_config
from kprov.cluster.api.service_families import service_cidrs
from kprov.cluster.storage import EtcdConfig

__all__ = ["FLAG_GROUPS", "FlagGroup", "ServerConfig", "config_from_flags"]


@dataclass(frozen=True)
class ServerConfig:
    etcd: EtcdConfig
    tls_cert_file: str = ""
    tls_key_file: str = ""
    client_ca_file: str = ""
    kubelet_client_cert: str = ""
    kubelet_client_key: str = ""
    kubelet_certificate_authority: str = ""  # verify kubelets' serving certs (chain and address)
    bind_address: str = "0.0.0.0"
    secure_port: int = 6443
    advertise_address: str = "127.0.0.1"
    service_cluster_ip_range: str = "10.96.0.0/12"
    service_node_port_range: tuple[int, int] = (30000, 32767)
    encryption_provider_config: str = ""
    service_account_key_files: tuple[str, ...] = ()  # public (or private) keys verifying tokens
    service_account_signing_key_file: str = ""  # the private key TokenRequest signs with
    service_account_issuer: str = "https://kubernetes.default.svc.cluster.local"
    api_audiences: tuple[str, ...] = ()  # default: the issuer
    insecure_port: int = 0  # plain HTTP on 127.0.0.1 for local debugging, 0 = off
    max_body_bytes: int = 3 * 1024 * 1024
    bookmark_interval_s: float = 1.0
    watch_cache_capacity: int = 100_000
    endpoint_lease_ttl_s: int = 15  # a dead server leaves the kubernetes Endpoints within this + ttl/3
    enable_priority_and_fairness: bool = True  # API Priority and Fairness (flowcontrol/)
    max_requests_inflight: int = 400  # with the mutating limit: the seats APF shares out
    max_mutating_requests_inflight: int = 200
    metrics: bool = True  # GET /metrics and the request metrics (off only to measure their cost)
    audit_policy_file: str = ""
    audit_log_path: str = ""  # "-": standard output
    audit_log_maxsize_mb: int = 0  # 0: never rotated
    audit_log_maxbackup: int = 0  # 0: every rotated file kept
    audit_log_maxage_days: int = 0  # 0: rotated files kept whatever their age
    # upstream's names and meaning: on are upstream's default set, the enabled, not the disabled
    enable_admission_plugins: tuple[str, ...] = ()  # e.g. NodeRestriction (off by default)
    disable_admission_plugins: tuple[str, ...] = ()  # e.g. ServiceAccount
    admission_control_config_file: str = ""  # AdmissionConfiguration (PodSecurity's defaults, exemptions)
    # --runtime-config's (key, on) settings (kprov.cluster.api.runtime_config): the optional
    # group-versions to serve, e.g. (("admissionregistration.k8s.io/v1beta1", True),)
    runtime_config: tuple[tuple[str, bool], ...] = ()
    workers: int = 1  # processes sharing the port (SO_REUSEPORT), each a full API server
    # on SIGTERM: /readyz fails at once, requests are still served this long (so load
    # balancers health-checking /readyz drain this server), then in-flight ones finish
    shutdown_delay_s: float = 0.0
    shutdown_timeout_s: float = 1.0  # in-flight requests' (and watches') grace after the delay
    # API aggregation: the client certificate this server presents to the servers behind
    # APIServices (the front-proxy CA signs it), and the request-header settings it publishes
    # in kube-system/extension-apiserver-authentication so those servers can verify it
    proxy_client_cert_file: str = ""
    proxy_client_key_file: str = ""
    requestheader_client_ca_file: str = ""
    requestheader_allowed_names: tuple[str, ...] = ()
    requestheader_username_headers: tuple[str, ...] = ("X-Remote-User",)
    requestheader_group_headers: tuple[str, ...] = ("X-Remote-Group",)
    requestheader_extra_headers_prefix: tuple[str, ...] = ("X-Remote-Extra-",)
    apiservice_check_interval_s: float = 2.0  # the availability controller's resync
    extra: dict[str, str] = field(default_factory=dict)


# -- the flags, by concern -----------------------------------------------------------------------
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


def _csv(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


Flags = Any  # an argparse argument group (add_argument)
Args = argparse.Namespace


@dataclass(frozen=True)
class FlagGroup:
    title: str
    add: Callable[[Flags], None]
    read: Callable[[Args], dict[str, Any]]  # the ServerConfig fields these flags set


def _etcd(flags: Flags) -> None:
    flags.add_argument("--etcd-servers", required=True, help="comma-separated etcd client URLs")
    flags.add_argument("--etcd-cafile", default="")
    flags.add_argument("--etcd-certfile", default="")
    flags.add_argument("--etcd-keyfile", default="")
    flags.add_argument("--encryption-provider-config", default="")
    flags.add_argument(
        "--watch-cache-size", type=int, default=100_000,
        help="recent events kept for watches from an older resourceVersion (older: 410)",
    )


def _read_etcd(args: Args) -> dict[str, Any]:
    etcd = EtcdConfig(
        servers=[s.strip() for s in args.etcd_servers.split(",") if s.strip()],
        cafile=args.etcd_cafile or None,
        certfile=args.etcd_certfile or None,
        keyfile=args.etcd_keyfile or None,
    )
    return {
        "etcd": etcd,
        "encryption_provider_config": args.encryption_provider_config,
        "watch_cache_capacity": args.watch_cache_size,
    }


def _serving(flags: Flags) -> None:
    flags.add_argument("--tls-cert-file", required=True)
    flags.add_argument("--tls-private-key-file", required=True)
    flags.add_argument("--bind-address", default="0.0.0.0")
    flags.add_argument("--secure-port", type=int, default=6443)
    flags.add_argument("--advertise-address", default="127.0.0.1")
    flags.add_argument(
        "--insecure-debug-port", type=int, default=0,
        help="ALSO serve plain HTTP on 127.0.0.1:PORT as system:masters (debugging only)",
    )
    flags.add_argument(
        "--workers", type=int, default=1,
        help="API server processes sharing the port (each with its own watch cache)",
    )
    flags.add_argument(
        "--shutdown-delay-duration", type=_duration_s, default=0.0,
        help="on SIGTERM, keep serving this long (e.g. 5s) with /readyz failing, so load balancers drain",
    )
    flags.add_argument(
        "--endpoint-lease-ttl-seconds", type=int, default=15,
        help="how long a stopped API server stays in the kubernetes Service's Endpoints",
    )


def _read_serving(args: Args) -> dict[str, Any]:
    return {
        "tls_cert_file": args.tls_cert_file,
        "tls_key_file": args.tls_private_key_file,
        "bind_address": args.bind_address,
        "secure_port": args.secure_port,
        "advertise_address": args.advertise_address,
        "insecure_port": args.insecure_debug_port,
        "workers": max(1, args.workers),
        "shutdown_delay_s": args.shutdown_delay_duration,
        "endpoint_lease_ttl_s": max(1, args.endpoint_lease_ttl_seconds),
    }


def _authentication(flags: Flags) -> None:
    flags.add_argument("--client-ca-file", required=True)
    flags.add_argument(
        "--service-account-key-file", action="append", default=[],
        help="PEM key verifying ServiceAccount tokens (repeatable; default: the signing key)",
    )
    flags.add_argument("--service-account-signing-key-file", default="", help="private key signing tokens")
    flags.add_argument("--service-account-issuer", default="https://kubernetes.default.svc.cluster.local")
    flags.add_argument("--api-audiences", default="", help="comma-separated (default: the issuer)")
    flags.add_argument("--requestheader-client-ca-file", default="",
                       help="the CA of --proxy-client-cert-file (published for extension API servers)")
    flags.add_argument("--requestheader-allowed-names", default="", help="comma-separated common names")
    flags.add_argument("--requestheader-username-headers", default="X-Remote-User")
    flags.add_argument("--requestheader-group-headers", default="X-Remote-Group")
    flags.add_argument("--requestheader-extra-headers-prefix", default="X-Remote-Extra-")


def _read_authentication(args: Args) -> dict[str, Any]:
    return {
        "client_ca_file": args.client_ca_file,
        "service_account_key_files": tuple(args.service_account_key_file),
        "service_account_signing_key_file": args.service_account_signing_key_file,
        "service_account_issuer": args.service_account_issuer,
        "api_audiences": tuple(a.strip() for a in args.api_audiences.split(",") if a.strip()),
        "requestheader_client_ca_file": args.requestheader_client_ca_file,
        "requestheader_allowed_names": _csv(args.requestheader_allowed_names),
        "requestheader_username_headers": _csv(args.requestheader_username_headers),
        "requestheader_group_headers": _csv(args.requestheader_group_headers),
        "requestheader_extra_headers_prefix": _csv(args.requestheader_extra_headers_prefix),
    }


def _kubelets_and_proxies(flags: Flags) -> None:
    flags.add_argument("--kubelet-client-certificate", default="")
    flags.add_argument("--kubelet-client-key", default="")
    flags.add_argument(
        "--kubelet-certificate-authority", default="",
        help="CA the kubelets' serving certificates must chain to (none: they are not verified)",
    )
    flags.add_argument("--proxy-client-cert-file", default="",
                       help="client certificate presented to the servers behind APIServices")
    flags.add_argument("--proxy-client-key-file", default="")


def _read_kubelets_and_proxies(args: Args) -> dict[str, Any]:
    return {
        "kubelet_client_cert": args.kubelet_client_certificate,
        "kubelet_client_key": args.kubelet_client_key,
        "kubelet_certificate_authority": args.kubelet_certificate_authority,
        "proxy_client_cert_file": args.proxy_client_cert_file,
        "proxy_client_key_file": args.proxy_client_key_file,
    }


def _api(flags: Flags) -> None:
    flags.add_argument(
        "--service-cluster-ip-range", default="10.96.0.0/12",
        help="one CIDR, or two of different families (dual-stack; the first is the default family)",
    )
    flags.add_argument("--service-node-port-range", type=_port_range, default=(30000, 32767))
    flags.add_argument(
        "--runtime-config", default="",
        help="comma-separated group/version=true|false (and api/all, api/beta, ...) turning on "
        "the group-versions that are off by default, e.g. admissionregistration.k8s.io/v1beta1=true",
    )


def _read_api(args: Args) -> dict[str, Any]:
    try:
        runtime_config = parse_runtime_config(args.runtime_config)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--runtime-config: {exc}") from None
    try:
        service_cidrs(args.service_cluster_ip_range)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return {
        "service_cluster_ip_range": args.service_cluster_ip_range,
        "service_node_port_range": args.service_node_port_range,
        "runtime_config": runtime_config,
    }


def _admission(flags: Flags) -> None:
    flags.add_argument(
        "--enable-admission-plugins", default="",
        help="comma-separated admission plugins to switch on besides the default ones "
        "(kube-apiserver's names, e.g. NodeRestriction)",
    )
    flags.add_argument(
        "--disable-admission-plugins", default="",
        help="comma-separated admission plugins to switch off although on by default (ServiceAccount: "
        "for servers with no controller manager making each namespace's default account)",
    )
    flags.add_argument(
        "--admission-control-config-file", default="",
        help="AdmissionConfiguration (apiserver.config.k8s.io/v1): the PodSecurity plugin's configuration",
    )


def _read_admission(args: Args) -> dict[str, Any]:
    # names are checked at start, as kube-apiserver validates its options after parsing them
    # (admission.names.enabled_plugins: upstream's errors, exit 1)
    return {
        "enable_admission_plugins": _csv(args.enable_admission_plugins),
        "disable_admission_plugins": _csv(args.disable_admission_plugins),
        "admission_control_config_file": args.admission_control_config_file,
    }


def _traffic(flags: Flags) -> None:
    flags.add_argument(
        "--enable-priority-and-fairness", type=_go_bool, nargs="?", const=True, default=True,
        help="API Priority and Fairness (default true; =false to switch it off)",
    )
    flags.add_argument("--max-requests-inflight", type=int, default=400,
                       help="with --max-mutating-requests-inflight: the seats APF shares out")
    flags.add_argument("--max-mutating-requests-inflight", type=int, default=200)


def _read_traffic(args: Args) -> dict[str, Any]:
    return {
        "enable_priority_and_fairness": args.enable_priority_and_fairness,
        "max_requests_inflight": max(0, args.max_requests_inflight),
        "max_mutating_requests_inflight": max(0, args.max_mutating_requests_inflight),
    }


def _observability(flags: Flags) -> None:
    flags.add_argument(
        "--disable-metrics", action="store_true",
        help="no /metrics and no request metrics (kprov's own: to measure what they cost)",
    )
    flags.add_argument("--audit-policy-file", default="", help="audit.k8s.io/v1 Policy (YAML)")
    flags.add_argument("--audit-log-path", default="", help="audit events as JSON lines here ('-': stdout)")
    flags.add_argument("--audit-log-maxsize", type=int, default=0, help="megabytes before rotating")
    flags.add_argument("--audit-log-maxbackup", type=int, default=0, help="rotated files kept (0: all)")
    flags.add_argument("--audit-log-maxage", type=int, default=0,
                       help="days a rotated file is kept, by the time in its name (0: no limit)")
    flags.add_argument("--v", type=int, default=0, help="log verbosity (0-1 info, 2 debug)")


def _read_observability(args: Args) -> dict[str, Any]:
    return {
        "metrics": not args.disable_metrics,
        "audit_policy_file": args.audit_policy_file,
        "audit_log_path": args.audit_log_path,
        "audit_log_maxsize_mb": max(0, args.audit_log_maxsize),
        "audit_log_maxbackup": max(0, args.audit_log_maxbackup),
        "audit_log_maxage_days": max(0, args.audit_log_maxage),
    }


FLAG_GROUPS = (
    FlagGroup("Etcd flags", _etcd, _read_etcd),
    FlagGroup("Secure serving flags", _serving, _read_serving),
    FlagGroup("Authentication flags", _authentication, _read_authentication),
    FlagGroup("Kubelet and aggregation client flags", _kubelets_and_proxies, _read_kubelets_and_proxies),
    FlagGroup("API enablement and Service flags", _api, _read_api),
    FlagGroup("Admission flags", _admission, _read_admission),
    FlagGroup("Traffic flags", _traffic, _read_traffic),
    FlagGroup("Metrics, audit and logging flags", _observability, _read_observability),
)


def config_from_flags(parser: argparse.ArgumentParser, argv: list[str] | None) -> tuple[ServerConfig, Args]:
    """The configuration ``argv`` asks for (a refused value exits through ``parser.error``),
    and the parsed flags (for what is not configuration: ``--v``)."""
    for group in FLAG_GROUPS:
        group.add(parser.add_argument_group(group.title))
    args = parser.parse_args(argv)
    fields: dict[str, Any] = {}
    for group in FLAG_GROUPS:
        try:
            fields.update(group.read(args))
        except argparse.ArgumentTypeError as exc:
            parser.error(str(exc))
    return ServerConfig(**fields), args
