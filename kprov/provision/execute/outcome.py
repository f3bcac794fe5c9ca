"""How a host's walk of a play's items ends, as a type of its own.

Design: the host runner (:mod:`.host_runner`) returns it from every step and the ``meta``
actions (:mod:`.meta`) return it to the runner; it lives below both so neither imports the
other to name it.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["Outcome"]

Outcome = Literal["ok", "failed", "unreachable", "ended"]
