"""csrcleaner's decision: which CertificateSigningRequests go when (upstream's criteria and
periods: issued 1h after approval, denied and failed 1h, pending 24h, expired certificates)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kprov.cluster.api.objects import format_time
from kprov.cluster.controllers.identity.csr_cleaner import cleanup_due, should_clean

NOW = dt.datetime(2026, 11, 27, 12, 0, 0, tzinfo=dt.UTC)


def _ago(**delta: float) -> str:
    return format_time(NOW - dt.timedelta(**delta))


def _certificate(not_after: dt.datetime) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(not_after - dt.timedelta(days=1)).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


LIVE = _certificate(NOW + dt.timedelta(days=300))
EXPIRED = _certificate(NOW - dt.timedelta(minutes=1))


def _csr(created: str, *conditions: tuple[str, str | None], certificate: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {}
    if conditions:
        status["conditions"] = [{"type": kind, "status": "True", **({"lastUpdateTime": t} if t else {})}
                                for kind, t in conditions]
    if certificate:
        status["certificate"] = certificate
    return {"metadata": {"name": "csr-1", "creationTimestamp": created}, "status": status}


CASES = [
    # (what, csr, reason it goes at NOW or None)
    ("pending 23h", _csr(_ago(hours=23)), None),
    ("pending 25h", _csr(_ago(hours=25)), "pending for more than 24h"),
    ("pending exactly 24h", _csr(_ago(hours=24)), None),  # "older than": strictly past
    ("pending, no creation time", _csr(""), None),
    ("approved and issued 59m ago",
     _csr(_ago(days=3), ("Approved", _ago(minutes=59)), certificate=LIVE), None),
    ("approved and issued 61m ago", _csr(_ago(days=3), ("Approved", _ago(minutes=61)), certificate=LIVE),
     "approved and issued more than 1h ago"),
    ("approved 2h ago, not issued", _csr(_ago(days=3), ("Approved", _ago(hours=2))), None),
    ("approved, issued, no update time", _csr(_ago(days=3), ("Approved", None), certificate=LIVE), None),
    ("issued certificate expired", _csr(_ago(days=3), ("Approved", _ago(minutes=5)), certificate=EXPIRED),
     "its certificate has expired"),
    ("expired certificate but never approved", _csr(_ago(hours=2), ("Failed", _ago(minutes=5)),
                                                     certificate=EXPIRED), None),
    ("unparsable certificate",
     _csr(_ago(days=3), ("Approved", _ago(minutes=5)), certificate="bm9wZQ=="), None),
    ("denied 30m ago", _csr(_ago(days=3), ("Denied", _ago(minutes=30))), None),
    ("denied 90m ago", _csr(_ago(days=3), ("Denied", _ago(minutes=90))), "denied more than 1h ago"),
    ("failed 90m ago", _csr(_ago(days=3), ("Approved", _ago(hours=2)), ("Failed", _ago(minutes=90))),
     "failed more than 1h ago"),
    ("failed 10m ago", _csr(_ago(days=3), ("Approved", _ago(hours=2)), ("Failed", _ago(minutes=10))), None),
    ("denied, no update time, 3 days old", _csr(_ago(days=3), ("Denied", None)), None),  # not pending either
]


@pytest.mark.parametrize(("csr", "reason"), [(c, r) for _, c, r in CASES], ids=[w for w, _, _ in CASES])
def test_what_goes_now(csr: dict[str, Any], reason: str | None) -> None:
    assert should_clean(csr, NOW) == reason


def test_the_earliest_deadline_is_the_one_to_wait_for() -> None:
    soon = _certificate(NOW + dt.timedelta(minutes=10))
    csr = _csr(_ago(days=3), ("Approved", _ago(minutes=5)), certificate=soon)
    due = cleanup_due(csr)
    assert due is not None and due.reason == "its certificate has expired"
    assert due.at == NOW + dt.timedelta(minutes=10)
    pending = cleanup_due(_csr(_ago(hours=1)))
    assert pending is not None and pending.at == NOW + dt.timedelta(hours=23)
    waiting_for_a_signer = _csr(_ago(days=3), ("Approved", _ago(hours=2)))
    assert cleanup_due(waiting_for_a_signer) is None
