"""Audit IDs: random version-4 UUIDs, worded as ``str(uuid.uuid4())``, cut from pools of
random hex digits made a few hundred at a time.

An ID is ``8-4-4-4-12`` hex digits. Its middle, ``-xxxx-4xxx-Vxxx-``, is a run of 2-byte
groups, which is what ``bytes.hex("-", 2)`` writes: one pool holds the middles of a batch of
IDs in that form, their version and variant bits set on the whole pool at once (one mask on
the pool as an integer); the other holds the 8 and 12 digits on either side, as plain hex.
An ID is then three slices, put straight into the event line's one format by
:meth:`AuditIds.pieces` — where cutting one 32-digit string into six pieces and mapping its
variant digit took about twice as long — and one ``getrandom`` serves ``PER_POOL`` events.
"""

from __future__ import annotations

import os

__all__ = ["AuditIds"]

_MIDDLE = 6  # random bytes of an ID's middle: three 2-byte groups, the version's and the variant's
_OUTER = 10  # random bytes of the first 8 and the last 12 digits


def _masks(count: int) -> tuple[int, int]:
    """(and, or) over ``count`` middles as one integer: the second group's high nibble
    becomes 4 (the version), the third group's top two bits 10 (RFC 9562's variant)."""
    keep = b"\xff\xff\x0f\xff\x3f\xff" * count
    bits = b"\x00\x00\x40\x00\x80\x00" * count
    return int.from_bytes(keep, "big"), int.from_bytes(bits, "big")


class AuditIds:
    """The pools and where the next ID starts in them (one per audit log)."""

    PER_POOL = 256

    def __init__(self) -> None:
        self._keep, self._bits = _masks(self.PER_POOL)
        self._outer = b""  # 20 hex digits an ID: its first 8, then its last 12
        self._middle = b""  # "-" + the middles joined by "-" + "-": 15 characters an ID, from a "-"
        self._at = self.PER_POOL

    def _refill(self) -> None:
        count = self.PER_POOL
        middle = int.from_bytes(os.urandom(_MIDDLE * count), "big") & self._keep | self._bits
        self._middle = b"-" + middle.to_bytes(_MIDDLE * count, "big").hex("-", 2).encode() + b"-"
        self._outer = os.urandom(_OUTER * count).hex().encode()
        self._at = 0

    def pieces(self) -> tuple[bytes, bytes, bytes]:
        """The next ID as its three pieces (first 8 digits, ``-xxxx-4xxx-Vxxx-``, last 12)."""
        at = self._at
        if at >= self.PER_POOL:
            self._refill()
            at = 0
        self._at = at + 1
        outer, middle = at * 20, at * 15
        return (self._outer[outer:outer + 8], self._middle[middle:middle + 16],
                self._outer[outer + 8:outer + 20])

    def next(self) -> bytes:
        """The next ID whole."""
        return b"".join(self.pieces())
