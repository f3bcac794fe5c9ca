"""The result of a verify run: one row per check, plain data, JSON-ready."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Check", "VerifyReport"]


@dataclass(frozen=True)
class Check:
    """One verified fact: where (a host name or "cluster"), what, and whether it holds."""

    scope: str
    name: str
    ok: bool
    detail: str = ""


@dataclass
class VerifyReport:
    checks: list[Check] = field(default_factory=list)
    duration_s: float = 0.0

    def add(self, scope: str, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(scope, name, ok, detail))

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "duration_s": round(self.duration_s, 3),
                "checks": [asdict(c) for c in self.checks]}
