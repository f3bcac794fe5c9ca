"""Client configuration from a standard kubeconfig file.

A kubeconfig names clusters, users and contexts; the current context (or the one asked for)
picks one cluster and one user. Credentials may be embedded (``*-data``, base64) or point to
files, and a bearer token is accepted too. Several API servers can be given for failover in
a standard named cluster extension::

    clusters:
    - name: kprov
      cluster:
        server: https://10.0.0.1:6443
        extensions:
        - name: kprov.io/servers
          extension: {servers: [https://10.0.0.1:6443, https://10.0.0.2:6443]}

The result is a plain :class:`ClientConfig`; :func:`ssl_context` turns it into an
``ssl.SSLContext`` (the standard library needs the client key in a file, so it is written
to a private temporary file and removed at once).
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SERVERS_EXTENSION", "ClientConfig", "KubeconfigError", "load_kubeconfig", "ssl_context"]

SERVERS_EXTENSION = "kprov.io/servers"


class KubeconfigError(ValueError):
    """A kubeconfig that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class ClientConfig:
    servers: tuple[str, ...]
    ca_pem: bytes | None = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    token: str | None = None
    insecure: bool = False
    user_agent: str = "kprov"
    extra_headers: dict[str, str] = field(default_factory=dict)


def _named(entries: Any, name: str, what: str, source: str) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(what)
            if not isinstance(body, dict):
                raise KubeconfigError(f"{source}: {what}s[name={name}].{what} must be a mapping")
            return body
    raise KubeconfigError(f"{source}: no {what} named {name!r} in {what}s; fix the context or add it")


def _material(section: dict[str, Any], key: str, base_dir: Path, source: str) -> bytes | None:
    data = section.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(data, validate=True)
        except (ValueError, TypeError) as exc:
            raise KubeconfigError(f"{source}: {key}-data is not valid base64 ({exc})") from exc
    path = section.get(key)
    if path:
        full = Path(os.path.expanduser(path))
        if not full.is_absolute():
            full = base_dir / full
        try:
            return full.read_bytes()
        except OSError as exc:
            raise KubeconfigError(f"{source}: {key} {full}: {exc.strerror}") from exc
    return None


def _servers(cluster: dict[str, Any], source: str) -> tuple[str, ...]:
    servers: list[str] = []
    if cluster.get("server"):
        servers.append(str(cluster["server"]).rstrip("/"))
    for ext in cluster.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == SERVERS_EXTENSION:
            listed = (ext.get("extension") or {}).get("servers") or []
            if not isinstance(listed, list):
                raise KubeconfigError(f"{source}: extension {SERVERS_EXTENSION}.servers must be a list")
            servers.extend(str(s).rstrip("/") for s in listed if str(s).rstrip("/") not in servers)
    if not servers:
        raise KubeconfigError(f"{source}: the cluster has no 'server'; add server: https://HOST:6443")
    return tuple(servers)


def load_kubeconfig(
    path: str | os.PathLike[str], context: str | None = None, user_agent: str = "kprov"
) -> ClientConfig:
    """Read a kubeconfig file and resolve its (current or named) context."""
    source = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise KubeconfigError(f"{source}: cannot read kubeconfig: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise KubeconfigError(f"{source}: a kubeconfig must be a mapping with clusters/users/contexts")
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise KubeconfigError(f"{source}: no current-context; set one or pass a context name")
    ctx = _named(doc.get("contexts"), ctx_name, "context", source)
    cluster = _named(doc.get("clusters"), ctx.get("cluster", ""), "cluster", source)
    user = _named(doc.get("users"), ctx.get("user", ""), "user", source) if ctx.get("user") else {}
    base_dir = Path(path).resolve().parent
    return ClientConfig(
        servers=_servers(cluster, source),
        ca_pem=_material(cluster, "certificate-authority", base_dir, source),
        cert_pem=_material(user, "client-certificate", base_dir, source),
        key_pem=_material(user, "client-key", base_dir, source),
        token=user.get("token"),
        insecure=bool(cluster.get("insecure-skip-tls-verify", False)),
        user_agent=user_agent,
    )


def ssl_context(config: ClientConfig) -> ssl.SSLContext | None:
    """The TLS context for ``config`` (None when every server is plain http)."""
    if all(s.startswith("http://") for s in config.servers):
        return None
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if config.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif config.ca_pem:
        ctx.load_verify_locations(cadata=config.ca_pem.decode())
    if config.cert_pem and config.key_pem:
        with tempfile.TemporaryDirectory(prefix="kprov-client-") as tmp:
            cert_file = Path(tmp) / "client.pem"
            fd = os.open(cert_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(config.cert_pem.rstrip(b"\n") + b"\n" + config.key_pem)
            ctx.load_cert_chain(str(cert_file))
    return ctx
