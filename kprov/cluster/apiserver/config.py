"""API server configuration (the command-line flags, as a dataclass)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kprov.cluster.storage import EtcdConfig

__all__ = ["ServerConfig"]


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
    disable_admission_plugins: tuple[str, ...] = ()  # upstream's names, e.g. ServiceAccount
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
