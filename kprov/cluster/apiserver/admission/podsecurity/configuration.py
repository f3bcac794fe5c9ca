"""The plugin's configuration: cluster-wide defaults and exemptions.

Read as kube-apiserver reads it: ``--admission-control-config-file`` names an
``AdmissionConfiguration`` (apiserver.config.k8s.io/v1) whose ``plugins`` entry named
``PodSecurity`` carries a ``PodSecurityConfiguration``
(pod-security.admission.config.k8s.io/v1; v1beta1 and v1alpha1 read the same) inline as
``configuration`` or in a file at ``path`` (relative to the admission configuration's
directory). Unset defaults are ``privileged``/``latest``; nothing is exempt unless listed.
A configuration upstream would refuse (a bad level or version, a duplicate or malformed
exemption) stops the server at start-up with upstream's field errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kprov.cluster.apiserver.admission.podsecurity.levels import (
    LevelVersion,
    Policy,
    parse_level,
    parse_version,
)

__all__ = ["PLUGIN_NAME", "ConfigurationError", "PodSecurityConfig", "load_admission_config", "parse_config"]

PLUGIN_NAME = "PodSecurity"
_GROUP = "pod-security.admission.config.k8s.io"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class ConfigurationError(ValueError):
    """A PodSecurityConfiguration upstream would refuse."""


@dataclass(frozen=True)
class PodSecurityConfig:
    defaults: Policy = Policy()
    exempt_usernames: frozenset[str] = frozenset()
    exempt_namespaces: frozenset[str] = frozenset()
    exempt_runtime_classes: frozenset[str] = frozenset()


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigurationError(f"{where}: must be a list of strings")
    return value


def _exemptions(values: list[str], where: str, check: Any) -> tuple[frozenset[str], list[str]]:
    errors, seen = [], set()
    for index, value in enumerate(values):
        problem = check(value)
        if problem:
            errors.append(f'{where}[{index}]: Invalid value: "{value}": {problem}')
        elif value in seen:
            errors.append(f'{where}[{index}]: Duplicate value: "{value}"')
        else:
            seen.add(value)
    return frozenset(seen), errors


def _dns_problem(pattern: re.Pattern[str], limit: int) -> Any:
    def check(value: str) -> str:
        if len(value) > limit:
            return f"must be no more than {limit} characters"
        if not pattern.match(value):
            return "a lowercase RFC 1123 name must consist of lower case alphanumeric characters or '-'"
        return ""

    return check


def parse_config(doc: Mapping[str, Any] | None) -> PodSecurityConfig:
    """A PodSecurityConfiguration document (None: upstream's defaults)."""
    if not doc:
        return PodSecurityConfig()
    api_version = str(doc.get("apiVersion", ""))
    if doc.get("kind") != "PodSecurityConfiguration" or not api_version.startswith(_GROUP + "/"):
        raise ConfigurationError(
            f"PodSecurity: expected kind PodSecurityConfiguration in {_GROUP}, got {doc.get('kind')!r} "
            f"in {api_version!r}"
        )
    defaults = doc.get("defaults") or {}
    errors: list[str] = []
    modes = {}
    for mode in ("enforce", "audit", "warn"):
        level_text = str(defaults.get(mode) or "privileged")
        version_text = str(defaults.get(f"{mode}-version") or "latest")
        level, version = parse_level(level_text), parse_version(version_text)
        if level is None:
            errors.append(
                f'defaults.{mode}: Invalid value: "{level_text}": must be one of '
                "privileged, baseline, restricted"
            )
        if version is None:
            errors.append(
                f'defaults.{mode}-version: Invalid value: "{version_text}": must be "latest" or "v1.x"'
            )
        if level is not None and version is not None:
            modes[mode] = LevelVersion(level, version)
    exemptions = doc.get("exemptions") or {}
    namespaces, found = _exemptions(
        _strings(exemptions.get("namespaces"), "exemptions.namespaces"),
        "exemptions.namespaces",
        _dns_problem(_DNS_LABEL, 63),
    )
    errors += found
    classes, found = _exemptions(
        _strings(exemptions.get("runtimeClasses"), "exemptions.runtimeClasses"),
        "exemptions.runtimeClasses",
        _dns_problem(_DNS_SUBDOMAIN, 253),
    )
    errors += found
    users, found = _exemptions(
        _strings(exemptions.get("usernames"), "exemptions.usernames"),
        "exemptions.usernames",
        lambda value: "" if value else "username must not be empty",
    )
    errors += found
    if errors:
        raise ConfigurationError("PodSecurity invalid: " + ", ".join(errors))
    return PodSecurityConfig(
        Policy(modes["enforce"], modes["audit"], modes["warn"]), users, namespaces, classes
    )


def load_admission_config(path: str) -> PodSecurityConfig:
    """The PodSecurity part of an AdmissionConfiguration file ('' or no entry: the defaults)."""
    if not path:
        return PodSecurityConfig()
    doc = yaml.safe_load(Path(path).read_text()) or {}
    if doc.get("kind") != "AdmissionConfiguration":
        raise ConfigurationError(f"{path}: expected kind AdmissionConfiguration, got {doc.get('kind')!r}")
    for plugin in doc.get("plugins") or ():
        if not isinstance(plugin, Mapping) or plugin.get("name") != PLUGIN_NAME:
            continue
        if plugin.get("configuration") is not None:
            return parse_config(plugin["configuration"])
        if plugin.get("path"):
            target = Path(path).parent / str(plugin["path"])
            return parse_config(yaml.safe_load(target.read_text()))
    return PodSecurityConfig()
