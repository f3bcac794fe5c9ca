"""verify's served-certificate check against a real TLS listener on loopback: the serial it
presents in a handshake must be the serial of the file on disk (a process that did not
restart after a rotation serves the old one); and the reset leftover list's parsing."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kprov.deploy.reset import leftovers
from kprov.deploy.verify.host_checks import served_matches


def _cert(tmp_path: Path, name: str) -> tuple[bytes, Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kprov-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (tmp_path / f"{name}.crt").write_bytes(pem)
    (tmp_path / f"{name}.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return pem, tmp_path / f"{name}.crt", tmp_path / f"{name}.key"


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[int, bytes]]:
    pem, crt, key = _cert(tmp_path, "served")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port, pem
    stop.set()
    thread.join()
    server.close()


def test_the_served_serial_must_be_the_file_s(listener: tuple[int, bytes], tmp_path: Path) -> None:
    port, served = listener
    assert served_matches("127.0.0.1", port, served)[0]
    other, _, _ = _cert(tmp_path, "rotated")
    ok, detail = served_matches("127.0.0.1", port, other)
    assert not ok and "stale process" in detail
    assert served_matches("127.0.0.1", port, None) == (False, "no certificate on disk")


def test_no_listener_is_a_failure(tmp_path: Path) -> None:
    pem, _, _ = _cert(tmp_path, "x")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ok, detail = served_matches("127.0.0.1", port, pem)
    assert not ok and detail.startswith("no TLS handshake")


def test_leftovers_parse() -> None:
    assert leftovers("\n  \n") == []
    found = leftovers("path /etc/kprov\nnftables table ip kprov\n")
    assert found == ["path /etc/kprov", "nftables table ip kprov"]


class _LocalHost:
    """A testinfra-like host that runs the command here (the file is a local one)."""

    def run(self, command: str) -> Any:
        import subprocess

        return subprocess.run(["sh", "-c", command], capture_output=True, text=True)


def test_a_kubelets_csr_serving_file_gives_only_its_certificate_and_is_where_the_root_dir_says(
        tmp_path: Path) -> None:
    from kprov.deploy.verify.host_checks import _certificate_block, kubelet_serving_by_csr

    assert kubelet_serving_by_csr({}) == "/var/lib/kprov/kubelet/pki/kubelet-server-current.pem"
    assert kubelet_serving_by_csr({"kubelet_root_dir": "/srv/k/"}) == "/srv/k/pki/kubelet-server-current.pem"
    pem, cert_path, key_path = _cert(tmp_path, "combined")
    combined = tmp_path / "kubelet-server-current.pem"
    combined.write_bytes(cert_path.read_bytes() + key_path.read_bytes())
    block = _certificate_block(_LocalHost(), str(combined))
    assert block is not None and b"PRIVATE KEY" not in block
    serial = x509.load_pem_x509_certificate(pem).serial_number
    assert x509.load_pem_x509_certificate(block).serial_number == serial
    assert _certificate_block(_LocalHost(), str(tmp_path / "absent.pem")) is None
