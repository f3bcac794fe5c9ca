"""A CertificateSigningRequest's conditions on its ``/approval`` and ``/status`` writes, as
upstream's CSR registry strategies prepare them (pkg/registry/certificates).

- Both writes stamp every condition: a missing ``lastUpdateTime`` becomes now; a missing
  ``lastTransitionTime`` is taken from a stored condition of the same type and status, or
  now. The CSR cleaner counts its 1-hour periods from ``lastUpdateTime``, so an approval that
  sends none (kprov's approving controllers, any client) still starts the clock.
- ``/status`` keeps the stored Approved and Denied conditions when it sends as many of each
  (approval is ``/approval``'s business, not the signer's).
"""

from __future__ import annotations

from typing import Any

__all__ = ["keep_approval_conditions", "stamp_conditions"]

_APPROVAL_TYPES = ("Approved", "Denied")


def stamp_conditions(old_status: dict[str, Any], conditions: list[Any], now: str) -> None:
    """Fill the missing timestamps of ``conditions`` (in place)."""
    stored = [c for c in old_status.get("conditions") or [] if isinstance(c, dict)]
    for condition in conditions:
        if not isinstance(condition, dict):
            continue
        if not condition.get("lastUpdateTime"):
            condition["lastUpdateTime"] = now
        if not condition.get("lastTransitionTime"):
            same = next(
                (
                    c["lastTransitionTime"]
                    for c in stored
                    if c.get("type") == condition.get("type")
                    and c.get("status") == condition.get("status")
                    and c.get("lastTransitionTime")
                ),
                now,
            )
            condition["lastTransitionTime"] = same


def keep_approval_conditions(old_status: dict[str, Any], conditions: list[Any]) -> None:
    """Put the stored Approved/Denied conditions back in place of the sent ones (in place),
    type by type, when the write sends as many of that type as are stored."""
    stored = old_status.get("conditions") or []
    for kind in _APPROVAL_TYPES:
        old_at = [i for i, c in enumerate(stored) if isinstance(c, dict) and c.get("type") == kind]
        new_at = [i for i, c in enumerate(conditions) if isinstance(c, dict) and c.get("type") == kind]
        if len(old_at) != len(new_at):
            continue  # added or removed: nothing to keep
        for old_index, new_index in zip(old_at, new_at, strict=True):
            conditions[new_index] = stored[old_index]
