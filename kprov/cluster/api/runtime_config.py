"""``--runtime-config``: which API group-versions the server serves, as kube-apiserver reads it.

Design: the flag is a comma-separated ``key=value`` list (a bare key means ``true``; values as
Go's strconv.ParseBool). Keys are ``group/version`` (``api/v1`` or ``v1`` for the core group)
or the shorthands ``api/all``, ``api/ga``, ``api/beta``, ``api/alpha``, ``api/legacy``.
As upstream, ``api/all`` applies first, then the stability shorthands, then the
group-versions, so ``api/beta=true,admissionregistration.k8s.io/v1beta1=false`` leaves that
one off. kprov's differences: only the group-versions of its resource table are known
(others: "unknown api groups ..."), and the default-on ones cannot be turned off (kprov's
own controllers and bootstrap use them): the flag exists to turn the optional ones on.
Pure functions; `parse` checks the flag, `enabled_group_versions` resolves it.
"""

from __future__ import annotations

import re

from kprov.cluster.api.resources import OPTIONAL_GROUP_VERSIONS, REGISTRY, TABLE

__all__ = ["RuntimeConfig", "enabled_group_versions", "parse"]

RuntimeConfig = tuple[tuple[str, bool], ...]  # (key, value) in the flag's order

_TRUE = ("1", "t", "T", "TRUE", "true", "True", "")
_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_STABILITY = {"api/ga": "ga", "api/beta": "beta", "api/alpha": "alpha"}


def parse(text: str) -> RuntimeConfig:
    """The flag's settings; ValueError with upstream's wording for a malformed or unknown key."""
    settings: list[tuple[str, bool]] = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        key, _, raw = item.partition("=")
        key = key.strip()
        if raw in _TRUE:
            value = True
        elif raw in _FALSE:
            value = False
        else:
            raise ValueError(
                f"invalid value of {key}: {raw}, err: strconv.ParseBool: parsing \"{raw}\": invalid syntax"
            )
        settings.append((key, value))
    keys = [k for k, _ in settings]
    if len(settings) == 1 and settings[0] == ("api/all", False):
        raise ValueError("invalid key with only api/all=false")
    for key in keys:
        if key.count("/") > 1 or (key.count("/") == 0 and key != "v1"):
            raise ValueError(f"runtime-config invalid key {key}")
    known = {_key(g, v) for g, v in _all_group_versions()}
    shorthands = {*_STABILITY, "api/all", "api/legacy", "v1"}
    unknown = [k for k in keys if k not in known and k not in shorthands]
    if unknown:
        raise ValueError(f"unknown api groups {','.join(unknown)}")
    enabled = enabled_group_versions(tuple(settings))
    off = [gv for gv in REGISTRY.group_versions() if gv not in enabled]
    if off:
        names = ",".join(_key(g, v) for g, v in off)
        raise ValueError(
            f"kprov cannot serve without {names}: only the optional group-versions can be switched"
        )
    return tuple(settings)


def enabled_group_versions(settings: RuntimeConfig) -> frozenset[tuple[str, str]]:
    """The (group, version) pairs served under ``settings`` (unknown keys are ignored)."""
    every = _all_group_versions()
    enabled = {gv for gv in every if gv not in OPTIONAL_GROUP_VERSIONS}
    for key, value in settings:  # api/all first
        if key == "api/all":
            enabled = set(every) if value else set()
    for key, value in settings:  # then the stability shorthands
        stability = _STABILITY.get(key)
        if stability is not None:
            _switch(enabled, {gv for gv in every if _stability(gv[1]) == stability}, value)
    for key, value in settings:  # then the group-versions
        if key in ("api/legacy", "api/v1", "v1"):
            _switch(enabled, {("", "v1")}, value)
        elif key not in _STABILITY and key != "api/all":
            _switch(enabled, {gv for gv in every if _key(*gv) == key}, value)
    return frozenset(enabled)


def _switch(enabled: set[tuple[str, str]], which: set[tuple[str, str]], value: bool) -> None:
    if value:
        enabled |= which
    else:
        enabled -= which


def _all_group_versions() -> tuple[tuple[str, str], ...]:
    seen: dict[tuple[str, str], None] = {}
    for info in TABLE:
        seen.setdefault((info.group, info.version), None)
    return tuple(seen)


def _key(group: str, version: str) -> str:
    return f"{group}/{version}" if group else f"api/{version}"


def _stability(version: str) -> str:
    if re.fullmatch(r"v\d+", version):
        return "ga"
    return "alpha" if "alpha" in version else "beta"
