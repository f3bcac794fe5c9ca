"""Which checks a level:version runs, and in what order (upstream's check registry as a table).

:data:`CHECKS` lists every check once: its ID, its level and the versions at which its
behaviour changed (each entry applies from its minimum version until the next one). A
restricted check may override baseline checks (restricted volumes replace the hostPath
check; restricted seccomp and capabilities replace their baseline forms), so a restricted
evaluation never reports the same field twice. The :class:`Evaluator` expands the table
once per minor version from v1.0 to the newest one in the table; ``latest`` and any newer
version use the newest. Checks run baseline first, then restricted, each group in the byte
order of their IDs, which is the order the reasons appear in upstream's messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kprov.cluster.apiserver.admission.podsecurity import baseline, restricted
from kprov.cluster.apiserver.admission.podsecurity._pods import CheckFn, Violation
from kprov.cluster.apiserver.admission.podsecurity.levels import (
    BASELINE,
    PRIVILEGED,
    RESTRICTED,
    LevelVersion,
)

__all__ = ["CHECKS", "Check", "Evaluator", "Result", "VersionedCheck"]


@dataclass(frozen=True)
class VersionedCheck:
    minimum_minor: int  # v1.<minimum_minor>
    check: CheckFn
    overrides: tuple[str, ...] = ()


@dataclass(frozen=True)
class Check:
    id: str
    level: str
    versions: tuple[VersionedCheck, ...]


def _at(minor: int, check: CheckFn, *overrides: str) -> VersionedCheck:
    return VersionedCheck(minor, check, overrides)


CHECKS: tuple[Check, ...] = (
    # baseline
    Check("appArmorProfile", BASELINE, (_at(0, baseline.app_armor_profile),)),
    Check("capabilities_baseline", BASELINE, (_at(0, baseline.capabilities_baseline),)),
    Check("hostNamespaces", BASELINE, (_at(0, baseline.host_namespaces),)),
    Check("hostPathVolumes", BASELINE, (_at(0, baseline.host_path_volumes),)),
    Check("hostPorts", BASELINE, (_at(0, baseline.host_ports),)),
    Check("privileged", BASELINE, (_at(0, baseline.privileged),)),
    Check("procMount", BASELINE, (_at(0, baseline.proc_mount),)),
    Check(
        "seLinuxOptions",
        BASELINE,
        (_at(0, baseline.selinux_options_1_0), _at(31, baseline.selinux_options_1_31)),
    ),
    Check(
        "seccompProfile_baseline",
        BASELINE,
        (_at(0, baseline.seccomp_profile_baseline_1_0), _at(19, baseline.seccomp_profile_baseline_1_19)),
    ),
    Check(
        "sysctls",
        BASELINE,
        (
            _at(0, baseline.sysctls_1_0),
            _at(27, baseline.sysctls_1_27),
            _at(29, baseline.sysctls_1_29),
            _at(32, baseline.sysctls_1_32),
        ),
    ),
    Check("windowsHostProcess", BASELINE, (_at(0, baseline.windows_host_process),)),
    # restricted
    Check(
        "allowPrivilegeEscalation",
        RESTRICTED,
        (
            _at(8, restricted.allow_privilege_escalation_1_8),
            _at(25, restricted.allow_privilege_escalation_1_25),
        ),
    ),
    Check(
        "capabilities_restricted",
        RESTRICTED,
        (
            _at(22, restricted.capabilities_restricted_1_22, "capabilities_baseline"),
            _at(25, restricted.capabilities_restricted_1_25, "capabilities_baseline"),
        ),
    ),
    Check("restrictedVolumes", RESTRICTED, (_at(0, restricted.restricted_volumes, "hostPathVolumes"),)),
    Check("runAsNonRoot", RESTRICTED, (_at(0, restricted.run_as_non_root),)),
    Check("runAsUser", RESTRICTED, (_at(23, restricted.run_as_user),)),
    Check(
        "seccompProfile_restricted",
        RESTRICTED,
        (
            _at(19, restricted.seccomp_profile_restricted_1_19, "seccompProfile_baseline"),
            _at(25, restricted.seccomp_profile_restricted_1_25, "seccompProfile_baseline"),
        ),
    ),
)


@dataclass(frozen=True)
class Result:
    """The violations of one evaluation, and upstream's two renderings of them."""

    violations: tuple[Violation, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.violations

    def reasons(self) -> str:
        """``privileged, hostPath volumes``: what a namespace label change warns with."""
        return ", ".join(v.reason for v in self.violations)

    def details(self) -> str:
        """``privileged (container "c" must not ...), hostPath volumes (volume "h")``."""
        return ", ".join(f"{v.reason} ({v.detail})" if v.detail else v.reason for v in self.violations)


def _versioned_at(check: Check, minor: int) -> VersionedCheck | None:
    found = None
    for versioned in check.versions:
        if versioned.minimum_minor <= minor:
            found = versioned
    return found


class Evaluator:
    """The checks of every level:version, expanded once from :data:`CHECKS`."""

    def __init__(self, checks: tuple[Check, ...] = CHECKS) -> None:
        self.max_minor = max(c.versions[-1].minimum_minor for c in checks)
        ordered = sorted((c for c in checks if c.level == BASELINE), key=lambda c: c.id.encode()) + sorted(
            (c for c in checks if c.level == RESTRICTED), key=lambda c: c.id.encode()
        )
        self._baseline: list[tuple[CheckFn, ...]] = []
        self._restricted: list[tuple[CheckFn, ...]] = []
        for minor in range(self.max_minor + 1):
            active = [(c, v) for c in ordered if (v := _versioned_at(c, minor)) is not None]
            overridden = {o for c, v in active if c.level == RESTRICTED for o in v.overrides}
            self._baseline.append(tuple(v.check for c, v in active if c.level == BASELINE))
            self._restricted.append(tuple(v.check for c, v in active if c.id not in overridden))

    def checks(self, level_version: LevelVersion) -> tuple[CheckFn, ...]:
        if level_version.level == PRIVILEGED:
            return ()
        version = level_version.version
        minor = self.max_minor if version.latest or version.minor > self.max_minor else version.minor
        table = self._baseline if level_version.level == BASELINE else self._restricted
        return table[minor]

    def evaluate(
        self, level_version: LevelVersion, meta: Mapping[str, Any], spec: Mapping[str, Any]
    ) -> Result:
        violations = []
        for check in self.checks(level_version):
            found = check(meta, spec)
            if found is not None:
                violations.append(found)
        return Result(tuple(violations))
