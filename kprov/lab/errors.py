"""The one error type of the lab: a message a person can act on (what failed, what to do)."""

from __future__ import annotations

__all__ = ["LabError"]


class LabError(RuntimeError):
    """A lab operation could not be done; the message says why and what to do."""
