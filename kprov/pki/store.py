"""The cluster PKI directory: issue what the catalog asks for, reuse what is still valid.

``ClusterPki(directory).ensure(topology)`` is idempotent: a CA is created once and then
only loaded; a leaf certificate is reused while it is readable, matches its key, was signed
by the current CA, says exactly what its spec says (CN, O, SANs, usages) and has more than
``RENEW_BEFORE`` left; otherwise it is issued again (a new key). ``rotate=True`` reissues
every leaf and keeps both CAs. Kubeconfigs are rewritten only when their text changes; the
service-account key pair and the secrets-encryption config are created once and never
replaced (losing the encryption key would make every stored Secret unreadable).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from kprov.pki.catalog import CLUSTER_CA, ETCD_CA, FRONT_PROXY_CA, CertSpec, cert_specs, kubeconfig_specs
from kprov.pki.keypair import KeyPair, issue_cert, new_ca
from kprov.pki.kubeconfig import render_kubeconfig
from kprov.pki.pem import CERT_MODE, KEY_MODE, pair_paths, read_pair, write_file, write_pair
from kprov.pki.secrets import encryption_config, encryption_keys, new_service_account_key, private_key_pem
from kprov.pki.secrets import public_key_pem as sa_public_pem
from kprov.pki.topology import ClusterTopology

__all__ = [
    "CA_COMMON_NAMES",
    "ENCRYPTION_CONFIG",
    "RENEW_BEFORE",
    "cert_sans",
    "stale_reason",
    "SA_KEY",
    "SA_PUB",
    "Change",
    "ClusterPki",
    "PkiError",
    "PkiReport",
]

RENEW_BEFORE = dt.timedelta(days=30)
CA_COMMON_NAMES = {CLUSTER_CA: "kprov-ca", ETCD_CA: "kprov-etcd-ca", FRONT_PROXY_CA: "kprov-front-proxy-ca"}
SA_KEY = "sa.key"
SA_PUB = "sa.pub"
ENCRYPTION_CONFIG = "encryption-config.yaml"


class PkiError(Exception):
    """The pki directory holds something kprov must not silently replace."""


@dataclass(frozen=True)
class Change:
    """What ``ensure`` did with one item: created, renewed, reused, written or unchanged."""

    name: str
    action: str
    reason: str = ""

    @property
    def changed(self) -> bool:
        return self.action in ("created", "renewed", "written")


@dataclass
class PkiReport:
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> list[Change]:
        return [c for c in self.changes if c.changed]

    def add(self, name: str, action: str, reason: str = "") -> None:
        self.changes.append(Change(name, action, reason))


class ClusterPki:
    """One pki directory (``<inventory dir>/pki``)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    # -- CAs -------------------------------------------------------------------------------
    def load_ca(self, name: str) -> KeyPair:
        cert_path, key_path = pair_paths(self.directory, name)
        if not cert_path.exists():
            raise PkiError(f"{cert_path}: CA missing; run `kprov pki init`")
        if not key_path.exists():
            raise PkiError(f"{key_path}: CA key missing; restore it (leaf certificates cannot be signed)")
        try:
            return read_pair(self.directory, name)
        except ValueError as e:
            raise PkiError(str(e)) from e

    def _ensure_ca(self, name: str, report: PkiReport) -> KeyPair:
        cert_path, key_path = pair_paths(self.directory, name)
        if cert_path.exists() or key_path.exists():
            ca = self.load_ca(name)
            if ca.not_after < dt.datetime.now(dt.UTC):
                raise PkiError(f"{cert_path}: CA expired on {ca.not_after:%Y-%m-%d}; replace the CA")
            report.add(name, "reused")
            return ca
        ca = new_ca(CA_COMMON_NAMES[name])
        write_pair(self.directory, name, ca)
        report.add(name, "created")
        return ca

    # -- leaves ----------------------------------------------------------------------------
    def _stale_reason(self, spec: CertSpec, ca: KeyPair) -> str:
        """Why the stored cert for ``spec`` cannot be reused ('' when it can)."""
        cert_path, key_path = pair_paths(self.directory, spec.name)
        if not cert_path.exists() or not key_path.exists():
            return "missing"
        try:
            pair = read_pair(self.directory, spec.name)
        except ValueError:
            return "unreadable"
        return stale_reason(pair, spec, ca)

    def _ensure_leaf(self, spec: CertSpec, ca: KeyPair, rotate: bool, report: PkiReport) -> None:
        reason = "rotate" if rotate else self._stale_reason(spec, ca)
        if not reason:
            report.add(spec.name, "reused")
            return
        pair = issue_cert(
            ca, spec.common_name, spec.organizations, spec.dns_names, spec.ip_addresses,
            server=spec.server, client=spec.client,
        )
        write_pair(self.directory, spec.name, pair)
        report.add(spec.name, "created" if reason == "missing" else "renewed", reason)

    # -- other files -----------------------------------------------------------------------
    def _write_if_changed(self, rel: str, data: bytes, mode: int, report: PkiReport) -> None:
        path = self.directory / rel
        if path.exists() and path.read_bytes() == data and (path.stat().st_mode & 0o777) == mode:
            report.add(rel, "unchanged")
            return
        write_file(path, data, mode)
        report.add(rel, "written")

    def _ensure_service_account_key(self, report: PkiReport) -> None:
        key_path = self.directory / SA_KEY
        if key_path.exists():
            try:
                # kprov wrote this key itself (mode 0600): skip the RSA consistency checks,
                # ~50 ms of CPU on every apply; a damaged file still fails to parse
                key = serialization.load_pem_private_key(key_path.read_bytes(), password=None,
                                                         unsafe_skip_rsa_key_validation=True)
            except ValueError as e:
                raise PkiError(
                    f"{key_path}: not a PEM private key ({e}); move it away to create a new one"
                ) from e
            report.add(SA_KEY, "reused")
        else:
            key = new_service_account_key()
            write_file(key_path, private_key_pem(key), KEY_MODE)
            report.add(SA_KEY, "created")
        self._write_if_changed(SA_PUB, sa_public_pem(key), CERT_MODE, report)  # type: ignore[arg-type]

    def _ensure_encryption_config(self, report: PkiReport) -> None:
        path = self.directory / ENCRYPTION_CONFIG
        if not path.exists():
            write_file(path, encryption_config().encode(), KEY_MODE)
            report.add(ENCRYPTION_CONFIG, "created")
            return
        try:
            keys = encryption_keys(path.read_text())
        except Exception as e:  # YAML or base64 errors: the file is not ours to replace
            raise PkiError(f"{path}: cannot read the encryption config ({e}); fix or move it away") from e
        if not keys or any(len(k) != 32 for k in keys.values()):
            raise PkiError(f"{path}: needs at least one aesgcm key of 32 bytes (base64)")
        report.add(ENCRYPTION_CONFIG, "reused")

    # -- the whole directory ---------------------------------------------------------------
    def ensure(self, topo: ClusterTopology, *, rotate: bool = False) -> PkiReport:
        """Make the directory hold everything ``topo`` needs (see the module doc)."""
        report = PkiReport()
        server = topo.server_url  # fails on a topology without an API server before writing
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        cas = {name: self._ensure_ca(name, report) for name in (CLUSTER_CA, ETCD_CA, FRONT_PROXY_CA)}
        for spec in cert_specs(topo):
            self._ensure_leaf(spec, cas[spec.ca], rotate, report)
        cluster_ca_pem = cas[CLUSTER_CA].cert_pem
        for conf in kubeconfig_specs(topo):
            pair = read_pair(self.directory, conf.cert)
            url, urls = server, topo.server_urls
            if conf.route == "admin" and topo.apiserver_vip:
                url = topo.admin_server_url
                urls = (url,)
            elif conf.route == "node" and topo.node_server_url:
                url = topo.node_server_url
                urls = (url,)
            text = render_kubeconfig(url, cluster_ca_pem, pair.cert_pem, pair.key_pem, conf.user,
                                     servers=urls,
                                     named_servers=topo.named_server_urls if conf.per_server_contexts else ())
            self._write_if_changed(conf.path, text.encode(), KEY_MODE, report)
        self._ensure_service_account_key(report)
        self._ensure_encryption_config(report)
        return report


def _eku(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    try:
        return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return set()


def cert_sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) of a certificate's subjectAltName."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    ips = [str(i) for i in san.get_values_for_type(x509.IPAddress)]
    return list(san.get_values_for_type(x509.DNSName)), ips


def stale_reason(pair: KeyPair, spec: CertSpec, ca: KeyPair) -> str:
    """Why ``pair`` does not satisfy ``spec`` as a cert from ``ca`` ('' when it does)."""
    cert = pair.cert
    if cert.public_key() != pair.key.public_key():
        return "key does not match certificate"
    try:
        cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        return "not signed by the current CA"
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    if left < RENEW_BEFORE:
        return f"expires in {max(left.days, 0)} days"
    if pair.common_name != spec.common_name or sorted(pair.organizations) != sorted(spec.organizations):
        return "subject differs"
    dns, ips = cert_sans(cert)
    if set(dns) != set(spec.dns_names) or set(ips) != set(spec.ip_addresses):
        return "SANs differ"
    want = ({ExtendedKeyUsageOID.SERVER_AUTH} if spec.server else set()) | (
        {ExtendedKeyUsageOID.CLIENT_AUTH} if spec.client else set()
    )
    if _eku(cert) != want:
        return "key usage differs"
    return ""
