"""csrcleaner: delete CertificateSigningRequests that are done with, as kube-controller-
manager's csrcleaner does (requests made and approved automatically pile up otherwise).

A request goes (upstream's criteria and periods, any one suffices):

- Approved with a certificate issued, 1 hour after the Approved condition's lastUpdateTime;
- Denied, 1 hour after that condition's lastUpdateTime; Failed likewise;
- Pending (no conditions at all), 24 hours after it was created;
- Approved with a certificate issued whose notAfter has passed.

A missing time never counts (upstream's zero time is never "older than"); a certificate that
does not parse is not expired. Upstream lists every request once an hour; here each request
is looked at when it changes and again when its earliest deadline comes (:func:`cleanup_due`),
so a request goes at its deadline rather than up to an hour after it. The deletion carries
the request's uid, so a newer request of the same name is never hit. The controller acts as
upstream's ``certificate-controller`` (its role holds ``delete`` on the requests).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from dataclasses import dataclass

from cryptography import x509

from kprov.cluster.api.objects import parse_time
from kprov.cluster.client.errors import Conflict, NotFound
from kprov.cluster.client.informer import EventHandler
from kprov.cluster.client.resources import CERTIFICATE_SIGNING_REQUESTS
from kprov.cluster.controllers.base import Controller, Obj

__all__ = ["CSRCleanerController", "Due", "cleanup_due", "should_clean"]

log = logging.getLogger(__name__)

APPROVED_EXPIRATION = dt.timedelta(hours=1)
DENIED_EXPIRATION = dt.timedelta(hours=1)  # upstream's period for Denied and for Failed
PENDING_EXPIRATION = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Due:
    at: dt.datetime  # the request goes once the clock is past this
    reason: str


def _not_after(certificate: object) -> dt.datetime | None:
    """The first certificate's notAfter in ``status.certificate`` (base64 of PEM), or None."""
    try:
        pem = base64.b64decode(str(certificate), validate=True)
        return x509.load_pem_x509_certificate(pem).not_valid_after_utc
    except (binascii.Error, ValueError):
        return None


def cleanup_due(csr: Obj) -> Due | None:
    """The earliest moment ``csr`` is due for deletion and why; None if it never is as it stands."""
    status = csr.get("status") or {}
    conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
    issued = bool(status.get("certificate"))
    found: list[Due] = []
    if not conditions:
        created = parse_time((csr.get("metadata") or {}).get("creationTimestamp"))
        if created is not None:
            found.append(Due(created + PENDING_EXPIRATION, "pending for more than 24h"))
    for condition in conditions:
        kind, updated = condition.get("type"), parse_time(condition.get("lastUpdateTime"))
        if kind == "Approved" and issued:
            if updated is not None:
                found.append(Due(updated + APPROVED_EXPIRATION, "approved and issued more than 1h ago"))
            not_after = _not_after(status.get("certificate"))
            if not_after is not None:
                found.append(Due(not_after, "its certificate has expired"))
        elif kind == "Denied" and updated is not None:
            found.append(Due(updated + DENIED_EXPIRATION, "denied more than 1h ago"))
        elif kind == "Failed" and updated is not None:
            found.append(Due(updated + DENIED_EXPIRATION, "failed more than 1h ago"))
    return min(found, key=lambda due: due.at) if found else None


def should_clean(csr: Obj, now: dt.datetime) -> str | None:
    """Why ``csr`` goes at ``now`` (strictly past its deadline), or None."""
    due = cleanup_due(csr)
    return due.reason if due is not None and now > due.at else None


class CSRCleanerController(Controller):
    name = "csrcleaner"
    identity = "certificate-controller"

    def setup(self) -> None:
        self.csrs = self.ctx.informers.get(CERTIFICATE_SIGNING_REQUESTS)
        self.csrs.add_handler(EventHandler(self.enqueue, lambda _o, n: self.enqueue(n), None))

    async def reconcile(self, key: str) -> float | None:
        csr = self.csrs.store.get(key)
        if csr is None or (csr.get("metadata") or {}).get("deletionTimestamp"):
            return None
        due = cleanup_due(csr)
        if due is None:
            return None
        left = (due.at - dt.datetime.now(dt.UTC)).total_seconds()
        if left >= 0:
            return left + 1.0  # strictly past the deadline, as upstream's "older than"
        try:
            await self.client.delete(CERTIFICATE_SIGNING_REQUESTS, key, uid=csr["metadata"].get("uid"))
        except (NotFound, Conflict):
            return None  # gone already, or a newer request of the same name
        log.info("deleted csr %s: %s", key, due.reason)
        return None
