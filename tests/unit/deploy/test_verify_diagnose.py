"""verify turns failures into rows with causes (issue 76): a real TLS listener on loopback whose
certificate starts an hour from now is refused by a real client (OpenSSL's "not yet valid"), and
the row says the clock is behind, with both times; a check that raises is a failed row; a
host's clock is compared with this machine's."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kprov.cluster.client import ServerUnavailable
from kprov.deploy.verify.clock_checks import BACKDATE_S, host_clock_check, served_window_detail
from kprov.deploy.verify.diagnose import aguard, describe_error, guard, primary_cause
from kprov.deploy.verify.host_checks import served_certificate
from kprov.deploy.verify.report import Check
from kprov.pki import keypair

START_IN = dt.timedelta(hours=1)


def _future_cert(tmp_path: Path) -> tuple[Path, Path, dt.datetime]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = (dt.datetime.now(dt.UTC) + START_IN).replace(microsecond=0)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (tmp_path / "s.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "s.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return tmp_path / "s.crt", tmp_path / "s.key", start


@pytest.fixture
def future_listener(tmp_path: Path) -> Iterator[tuple[int, Path, dt.datetime]]:
    crt, key, start = _future_cert(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], crt, start
    stop.set()
    thread.join()
    server.close()


def test_a_certificate_not_yet_valid_is_named_with_the_clock_and_both_times(
        future_listener: tuple[int, Path, dt.datetime]) -> None:
    port, crt, start = future_listener

    async def fetch() -> None:
        client = ssl.create_default_context(cafile=str(crt))
        async with aiohttp.ClientSession() as session, session.get(f"https://127.0.0.1:{port}/", ssl=client):
            pass

    with pytest.raises(aiohttp.ClientError) as caught:
        asyncio.run(fetch())
    assert primary_cause(caught.value).kind == "cert-not-yet-valid"
    detail = describe_error(caught.value)
    assert "not yet valid" in detail and "clock is behind" in detail and "NTP" in detail
    now = dt.datetime.now(dt.UTC)
    window = served_window_detail("127.0.0.1", port, now, served_certificate)
    assert window is not None
    assert f"127.0.0.1:{port}" in window
    assert start.strftime("%Y-%m-%d %H:%M:%S UTC") in window  # the certificate's start
    assert now.strftime("%Y-%m-%d %H:%M") in window  # this machine's clock
    assert "1h00m" in window or "0h59m" in window or "59m" in window


def test_a_window_that_holds_now_is_no_hint(future_listener: tuple[int, Path, dt.datetime]) -> None:
    port, _, start = future_listener
    later = start + dt.timedelta(minutes=1)
    assert served_window_detail("127.0.0.1", port, later, served_certificate) is None
    assert served_window_detail("127.0.0.1", 1, start, served_certificate) is None  # nothing listens


def test_a_check_that_raises_is_one_failed_row_with_its_cause() -> None:
    def crashing() -> list[Check]:
        raise ServerUnavailable("no API server reachable (https://10.77.6.10:8443): Cannot connect to host "
                                "10.77.6.10:8443 ssl:True [SSLCertVerificationError: (1, '[SSL: "
                                "CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate is not "
                                "yet valid (_ssl.c:992)')]")

    rows = guard("cluster", "smoke deployment", crashing)
    assert [(r.name, r.ok) for r in rows] == [("smoke deployment", False)]
    assert "clock is behind" in rows[0].detail and "10.77.6.10:8443" in rows[0].detail

    async def refused() -> list[Check]:
        raise ConnectionRefusedError(111, "Connection refused")

    rows = asyncio.run(aguard("cluster", "metrics API", refused()))
    assert not rows[0].ok and "nothing listens" in rows[0].detail
    assert guard("cluster", "fine", lambda: [Check("cluster", "fine", True)])[0].ok


def test_chained_causes_are_found_and_unknown_ones_keep_their_words() -> None:
    try:
        try:
            raise TimeoutError("timed out")
        except TimeoutError as inner:
            raise RuntimeError("listing nodes failed") from inner
    except RuntimeError as exc:
        assert primary_cause(exc).kind == "timeout"
        assert "listing nodes failed" in describe_error(exc)
    assert describe_error(KeyError("spec")) == "KeyError: 'spec'"


def test_a_host_clock_beyond_the_backdating_fails_and_says_which_side_is_behind() -> None:
    here = 1_800_000_000.0
    ok = host_clock_check("h1", lambda: f"{here + 2:.9f}\n", local_time=lambda: here)
    assert ok.ok and "2s ahead" in ok.detail
    ahead = host_clock_check("h1", lambda: f"{here + 3600:.9f}\n", local_time=lambda: here)
    assert not ahead.ok
    assert "1h00m00s ahead of this machine's" in ahead.detail and "this machine rejects" in ahead.detail
    behind = host_clock_check("h2", lambda: f"{here - 3600}", local_time=lambda: here)
    assert not behind.ok and "behind" in behind.detail and "h2 rejects" in behind.detail
    garbled = host_clock_check("h3", lambda: "date: not found", local_time=lambda: here)
    assert not garbled.ok and "could not read" in garbled.detail


def test_the_limit_is_the_backdating_kprov_pki_applies() -> None:
    assert dt.timedelta(seconds=BACKDATE_S) == keypair._BACKDATE


def test_an_inventory_that_does_not_load_is_a_failed_row(tmp_path: Path) -> None:
    from kprov.deploy.verify import verify_cluster

    report = verify_cluster(tmp_path / "missing.yml", smoke=False, drift=False)
    assert not report.ok
    assert [(c.name, c.ok) for c in report.checks] == [("inventory loads", False)]
    assert "missing.yml" in report.checks[0].detail


def test_a_units_last_warning_is_attached_and_silence_adds_nothing() -> None:
    from types import SimpleNamespace

    from kprov.deploy.verify.host_checks import _last_words

    sent: list[str] = []

    class Host:
        def run(self, command: str) -> SimpleNamespace:
            sent.append(command)
            out = "kprov-apiserver\t2026-11-29 10:20:21,365 WARNING waiting for etcd: Tls handshake failed\n"
            return SimpleNamespace(stdout=out + "kprov-etcd\t\n")

    words = _last_words(Host(), ["kprov-apiserver", "kprov-etcd"])
    assert words == {"kprov-apiserver": "; last log: 2026-11-29 10:20:21,365 WARNING waiting for etcd: "
                                        "Tls handshake failed"}
    assert "_SYSTEMD_INVOCATION_ID" in sent[0] and "journalctl -u kprov-etcd" in sent[0]


@pytest.fixture
def mute_listener() -> Iterator[int]:
    """A TCP port on loopback that accepts and hangs up at once: no SSH banner ever comes
    (paramiko's transport thread then logs a traceback of its own)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


def test_the_verify_command_reports_hosts_that_never_answer_without_a_traceback(
        tmp_path: Path, mute_listener: int) -> None:
    from tests.faults.verify_probe import run_verify

    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    h1:\n      ansible_host: 127.0.0.1\n"
        f"      ansible_port: {mute_listener}\n      kprov_host_key_checking: false\n"
        "  children:\n    etcd: {hosts: {h1: {}}}\n    control_plane: {hosts: {h1: {}}}\n")
    outcome = run_verify(inventory, timeout_s=120)  # the real command, as tests/faults runs it
    assert not outcome.traceback, outcome.output[-3000:]
    assert outcome.returncode == 2
    rows = {(c["scope"], c["name"]): c for c in outcome.report["checks"]}
    assert not rows[("h1", "reachable over SSH")]["ok"]
    assert outcome.names("reachable over SSH", "banner")
    assert not rows[("cluster", "etcd quorum")]["ok"]
    assert not rows[("cluster", "admin kubeconfig")]["ok"]
