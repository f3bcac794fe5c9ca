"""The named selections `kprov conformance --suite` runs: which specs, and why the rest are left out.

- ``conformance``: the specs tagged ``[Conformance]`` (the certification floor).
- ``default``: what upstream's default e2e CI job runs — every spec but the ones its other
  jobs own (``[Slow]``, ``[Serial]``, ``[Disruptive]``, ``[Flaky]``, ``[Feature:…]``) — less
  what this cluster cannot have: cloud providers' volume drivers, drivers whose server or
  sidecar images are not available offline, and Windows nodes.

Each left-out group is a :class:`SkipRule` with its reason, so a report can say how many specs
each rule took out and why (:meth:`Suite.skipped_by`). The patterns are Go RE2 as Ginkgo reads
them, written in the subset Python's ``re`` reads the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from kprov.conformance.suite import CONFORMANCE_FOCUS

__all__ = ["SUITES", "SkipRule", "Suite"]


@dataclass(frozen=True)
class SkipRule:
    pattern: str
    reason: str


@dataclass(frozen=True)
class Suite:
    name: str
    focus: str
    rules: tuple[SkipRule, ...] = ()

    @property
    def skip(self) -> str:
        """The Ginkgo skip regex (every rule's pattern)."""
        return "|".join(rule.pattern for rule in self.rules)

    def skipped_by(self, names: Iterable[str]) -> dict[str, int]:
        """How many of ``names`` each rule leaves out, by reason (the first matching rule counts)."""
        compiled = [(re.compile(rule.pattern), rule.reason) for rule in self.rules]
        counts = {rule.reason: 0 for rule in self.rules}
        for name in names:
            for pattern, reason in compiled:
                if pattern.search(name):
                    counts[reason] += 1
                    break
        return counts


_CLOUD_DRIVERS = "aws|azure-disk|azure-file|cinder|gcepd|vsphere"

SUITES: Mapping[str, Suite] = MappingProxyType({
    "conformance": Suite("conformance", CONFORMANCE_FOCUS),
    "default": Suite("default", "", (
        SkipRule(r"\[Slow\]", "slow: upstream runs these in its own slow job"),
        SkipRule(r"\[Serial\]", "serial: upstream runs these alone in its serial job"),
        SkipRule(r"\[Disruptive\]", "disruptive (break nodes or components): upstream's own job"),
        SkipRule(r"\[Flaky\]", "marked flaky upstream"),
        SkipRule(r"\[Feature:[^\]]+\]", "an optional feature: upstream tests these in feature jobs"),
        SkipRule(rf"\[Driver: ({_CLOUD_DRIVERS})\]", "a cloud provider's volume driver: no cloud here"),
        SkipRule(r"\[Driver: nfs\]|\[sig-storage\] (PersistentVolumes NFS|Volumes NFSv)",
                 "the NFS server image is not available offline"),
        SkipRule(r"\[sig-storage\] CSI Mock ",
                 "the CSI mock driver's and its sidecars' images are not offline"),
        SkipRule(r"\[Driver: csi-hostpath\]", "the CSI hostpath sidecar images are not offline"),
        SkipRule(r"\[sig-windows\]", "needs Windows nodes"),
    )),
})
