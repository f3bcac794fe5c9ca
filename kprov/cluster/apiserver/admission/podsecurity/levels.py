"""Pod Security levels, versions and a namespace's policy (what its labels ask for).

A policy is three level:version pairs, one per mode (enforce, audit, warn), read from the
``pod-security.kubernetes.io/<mode>`` and ``<mode>-version`` labels over the cluster-wide
defaults, as upstream's ``PolicyToEvaluate`` does: a bad enforce label is an error (the
caller refuses what it cannot evaluate), a bad audit or warn level fails open to
privileged, and a namespace that raises enforce above warn without a warn label warns at
its enforce level (and version, unless warn-version is given).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "AUDIT_ANNOTATION_PREFIX",
    "LABEL_PREFIX",
    "LATEST",
    "LEVELS",
    "LabelError",
    "LevelVersion",
    "Policy",
    "Version",
    "compare_levels",
    "parse_level",
    "parse_version",
    "policy_to_evaluate",
]

PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)
LABEL_PREFIX = "pod-security.kubernetes.io/"
AUDIT_ANNOTATION_PREFIX = LABEL_PREFIX
_VERSION = re.compile(r"^v1\.([0-9]|[1-9][0-9]*)$")
_LEVEL_ERROR = "must be one of " + ", ".join(LEVELS)
_VERSION_ERROR = 'must be "latest" or "v1.x"'


@dataclass(frozen=True, order=True)
class Version:
    """``v1.<minor>``, or latest (newer than every numbered version)."""

    minor: int = 0
    latest: bool = False

    def __str__(self) -> str:
        return "latest" if self.latest else f"v1.{self.minor}"

    def older(self, other: Version) -> bool:
        if self.latest:
            return False
        return other.latest or self.minor < other.minor


LATEST = Version(latest=True)


@dataclass(frozen=True)
class LevelVersion:
    level: str
    version: Version = LATEST

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"

    def equivalent(self, other: LevelVersion) -> bool:
        return (self.level == PRIVILEGED and other.level == PRIVILEGED) or self == other


@dataclass(frozen=True)
class Policy:
    enforce: LevelVersion = LevelVersion(PRIVILEGED)
    audit: LevelVersion = LevelVersion(PRIVILEGED)
    warn: LevelVersion = LevelVersion(PRIVILEGED)

    def fully_privileged(self) -> bool:
        return self.enforce.level == self.audit.level == self.warn.level == PRIVILEGED

    def equivalent(self, other: Policy) -> bool:
        return (
            self.enforce.equivalent(other.enforce)
            and self.audit.equivalent(other.audit)
            and self.warn.equivalent(other.warn)
        )


@dataclass(frozen=True)
class LabelError:
    """One bad label: rendered as upstream's field error on ``metadata.labels[<label>]``."""

    label: str
    value: str
    detail: str

    @property
    def field(self) -> str:
        return f"metadata.labels[{self.label}]"

    @property
    def message(self) -> str:
        return f'Invalid value: "{self.value}": {self.detail}'

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def parse_level(text: str) -> str | None:
    return text if text in LEVELS else None


def parse_version(text: str) -> Version | None:
    if text == "latest":
        return LATEST
    match = _VERSION.match(text)
    return Version(int(match.group(1))) if match else None


def compare_levels(a: str, b: str) -> int:
    difference = LEVELS.index(a) - LEVELS.index(b)
    return (difference > 0) - (difference < 0)


def policy_to_evaluate(labels: Mapping[str, str], defaults: Policy) -> tuple[Policy, list[LabelError]]:
    """The namespace's policy (labels over ``defaults``) and the errors of its bad labels."""
    if not labels:
        return defaults, []
    errors: list[LabelError] = []
    modes = {"enforce": defaults.enforce, "audit": defaults.audit, "warn": defaults.warn}
    has_enforce_level = False
    for mode in ("enforce", "audit", "warn"):
        current = modes[mode]
        level_label, version_label = LABEL_PREFIX + mode, LABEL_PREFIX + mode + "-version"
        if level_label in labels:
            level = parse_level(labels[level_label])
            if level is None:
                errors.append(LabelError(level_label, labels[level_label], _LEVEL_ERROR))
                # upstream: enforce becomes restricted (fail closed), audit and warn privileged
                level = RESTRICTED if mode == "enforce" else PRIVILEGED
            elif mode == "enforce":
                has_enforce_level = True
            current = LevelVersion(level, current.version)
        if version_label in labels:
            version = parse_version(labels[version_label])
            if version is None:
                errors.append(LabelError(version_label, labels[version_label], _VERSION_ERROR))
                version = LATEST
            current = LevelVersion(current.level, version)
        modes[mode] = current
    warn = modes["warn"]
    enforce = modes["enforce"]
    if (
        LABEL_PREFIX + "warn" not in labels
        and has_enforce_level
        and compare_levels(enforce.level, warn.level) > 0
    ):
        version = warn.version if LABEL_PREFIX + "warn-version" in labels else enforce.version
        warn = LevelVersion(enforce.level, version)
    return Policy(enforce, modes["audit"], warn), errors
