"""Live instances from their presence Leases (pure)."""

from __future__ import annotations

import datetime as dt

from kprov.cluster.ingress.presence import PresenceOptions, live_addresses, presence_lease

NOW = dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC)


def test_only_leases_renewed_within_their_duration_count() -> None:
    fresh = presence_lease(PresenceOptions("h4", "10.77.7.14"), NOW - dt.timedelta(seconds=5))
    edge = presence_lease(PresenceOptions("h6", "10.77.7.16"), NOW - dt.timedelta(seconds=40))
    stale = presence_lease(PresenceOptions("h5", "10.77.7.15"), NOW - dt.timedelta(seconds=41))
    again = presence_lease(PresenceOptions("h4-twin", "10.77.7.14"), NOW)
    unnamed = {"spec": {"renewTime": fresh["spec"]["renewTime"], "leaseDurationSeconds": 40}}
    assert live_addresses([stale, fresh, edge, again, unnamed], NOW) == ["10.77.7.14", "10.77.7.16"]


def test_lease_shape() -> None:
    lease = presence_lease(PresenceOptions("h4", "10.77.7.14"), NOW)
    assert lease["metadata"] == {"name": "kprov-ingress-h4", "namespace": "kube-system",
                                 "labels": {"app.kubernetes.io/managed-by": "kprov-ingress"}}
    assert lease["spec"] == {"holderIdentity": "10.77.7.14", "leaseDurationSeconds": 40,
                             "renewTime": "2026-11-27T08:00:00.000000Z"}
