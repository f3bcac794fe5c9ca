"""Ingress on the lab cluster, reached from this machine (outside the cluster) over the lab bridge.

Two Deployments answer with their pod names; one Ingress (no class named: the default
class ``kprov`` the roles install takes it) routes two hosts and a prefix path to them and
serves a third host over TLS with a Secret's certificate. Every worker's kprov-ingress
answers: the right backend by Host and path, 404 for an unknown host, the Secret's
certificate by SNI (and the default one without), and the Ingress's status lists the
workers' addresses.
"""

from __future__ import annotations

import datetime
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.cluster.conftest import Cluster, wait_for

NS = "ingress-e2e"
SERVE = ("mkdir -p /www/api && hostname > /www/index.html && hostname > /www/api/index.html"
         " && exec httpd -f -p 8080 -h /www")


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    cluster.create_namespace(NS)
    yield NS
    cluster.kubectl("delete", "namespace", NS, "--wait=false", check=False)


def _manifests() -> str:
    docs = []
    for name in ("alpha", "beta"):
        docs.append(f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {NS}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: httpd
        image: kprov.local/busybox:1
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "{SERVE}"]
        ports: [{{containerPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {NS}}}
spec:
  selector: {{app: {name}}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
""")
    docs.append(f"""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web, namespace: {NS}}}
spec:
  tls: [{{hosts: [secure.example], secretName: secure-tls}}]
  rules:
  - host: a.example
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: alpha, port: {{number: 80}}}}}}}}
      - {{path: /api, pathType: Prefix, backend: {{service: {{name: beta, port: {{name: http}}}}}}}}
  - host: b.example
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: beta, port: {{number: 80}}}}}}}}
  - host: secure.example
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: alpha, port: {{number: 80}}}}}}}}
""")
    return "---".join(docs)


def _certificate(directory: Path, host: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _curl(*args: str) -> tuple[int, str]:
    """(HTTP status, body) — status 0 when nothing answered."""
    proc = subprocess.run(["curl", "-s", "--max-time", "3", "-w", "\n%{http_code}", *args],
                          capture_output=True, text=True, timeout=10)
    body, _, code = proc.stdout.rpartition("\n")
    return int(code or 0), body.strip()


def _answered_by(prefix: str, *args: str) -> bool:
    """True when the page starts with ``prefix`` (a backend's name); else raises with what
    did answer, so a routing wait that times out says what it saw."""
    status, page = _curl(*args)
    if not page.startswith(prefix):
        raise AssertionError(f"HTTP {status}: {page[:160]!r}")
    return True


def wait_routed(cluster: Cluster, host: str, namespace: str, what: str,
                predicate: Callable[[], bool]) -> None:
    """Wait (60 s: the e2e stage's load) until ``predicate`` holds; if it never does, the
    failure also shows the namespace's EndpointSlices and the host's kprov-ingress log, as
    the controller saw them."""
    try:
        wait_for(what, predicate, 60)
    except AssertionError as exc:
        columns = ("custom-columns=NAME:.metadata.name,ADDRESSES:.endpoints[*].addresses[0],"
                   "READY:.endpoints[*].conditions.ready,SERVING:.endpoints[*].conditions.serving")
        slices = cluster.kubectl("get", "endpointslices", "-n", namespace, "-o", columns, check=False)
        journal = cluster.ssh(host, "journalctl -u kprov-ingress --no-pager -o short-precise --since -3min"
                                    " | grep -Ev 'Proxy |NOTICE|Former worker' | tail -25")
        raise AssertionError(f"{exc}\n{slices.stdout}{slices.stderr}\n{journal}") from None


def _get(ip: str, host: str, path: str = "/") -> tuple[int, str]:
    return _curl("-H", f"Host: {host}", f"http://{ip}{path}")


def _tls_subject(ip: str, server_name: str | None) -> str:
    connect = ["-connect", f"{ip}:443"] + (["-servername", server_name] if server_name else ["-noservername"])
    proc = subprocess.run(["openssl", "s_client", *connect], input="", capture_output=True, text=True,
                          timeout=10)
    subject = [line for line in proc.stdout.splitlines() if line.startswith("subject=")]
    return subject[0] if subject else proc.stderr[-200:]


def test_ingress_routes_by_host_and_path_serves_tls_and_404s_unknown_hosts(
        cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    classes = cluster.kubectl_json("get", "ingressclass", "kprov")
    assert classes["spec"]["controller"] == "kprov.io/ingress"
    assert classes["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true"
    cert, key = _certificate(tmp_path, "secure.example")
    cluster.kubectl("create", "secret", "tls", "secure-tls", "-n", NS, f"--cert={cert}", f"--key={key}")
    proc = subprocess.run(["kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "-f", "-"],
                          input=_manifests(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for name in ("alpha", "beta"):
        cluster.kubectl("rollout", "status", f"deployment/{name}", "-n", NS, "--timeout=120s", timeout=150)
    workers = [cluster.lab.ip(h) for h in ("h4", "h5")]  # the lab inventory's workers
    for ip in workers:
        # each worker's controller programs each backend's endpoints as its EndpointSlice comes
        host = next(h for h in ("h4", "h5") if cluster.lab.ip(h) == ip)
        wait_routed(cluster, host, NS, f"a.example/api/ routed on {ip}",
                    lambda ip=ip: _answered_by("beta-", "-H", "Host: a.example", f"http://{ip}/api/"))
        wait_routed(cluster, host, NS, f"a.example/ routed on {ip}",
                    lambda ip=ip: _answered_by("alpha-", "-H", "Host: a.example", f"http://{ip}/"))
        # element-wise: /apis is not under /api, so alpha answers it (no such file there)
        status, page = _get(ip, "a.example", "/apis")
        assert status == 404 and page != "404 page not found", page
        assert _get(ip, "b.example", "/")[1].startswith("beta-")
        assert _get(ip, "unknown.example", "/") == (404, "404 page not found")
        assert _get(ip, "secure.example", "/")[0] == 308
        status, page = _curl("-k", "--resolve", f"secure.example:443:{ip}", "https://secure.example/")
        assert status == 200 and page.startswith("alpha-"), (status, page)
        assert "CN = secure.example" in _tls_subject(ip, "secure.example")
        assert "kprov Ingress default certificate" in _tls_subject(ip, None)

    def published() -> list[str]:
        ingress = cluster.kubectl_json("get", "ingress", "web", "-n", NS)
        entries = ingress.get("status", {}).get("loadBalancer", {}).get("ingress", [])
        return sorted(e.get("ip", "") for e in entries)

    assert wait_for("the workers' addresses in status", lambda: published() == sorted(workers), 10)
    described = cluster.kubectl("get", "ingress", "web", "-n", NS).stdout
    assert workers[0] in described, described
