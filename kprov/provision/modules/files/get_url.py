"""ansible.builtin.get_url: download a URL ON THE HOST into ``dest``.

One command decides: if ``dest`` exists and either no ``checksum`` is given (and not
``force``) or its checksum matches, nothing happens. Otherwise one command downloads with
curl (wget as fallback) into a temp file beside ``dest``, verifies the checksum, sets the
attributes and renames it over ``dest`` (so a failed download never leaves half a file).
``checksum`` is ``ALGORITHM:HEX`` (sha256, sha1, sha512, md5, ...). In the module contract's
steps: ``decide`` (pure) gives a frozen ``GetUrlPlan``, ``act`` runs its command.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import FILE_ATTRS, Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, decide_then_act
from kprov.provision.modules.files.fileops import attribute_commands, parse_probe, probe_script, resolve_mode

__all__ = ["MODULE", "GetUrlModule", "GetUrlPlan"]

SPEC = {
    "url": Arg(required=True),
    "dest": Arg(required=True),
    "checksum": Arg(default=""),
    "force": Arg("bool", default=False, aliases=("thirsty",)),
    "timeout": Arg("int", default=10),
    "headers": Arg("dict"),
    "url_username": Arg(aliases=("username",)),
    "url_password": Arg(aliases=("password",)),
    "validate_certs": Arg("bool", default=True),
    "backup": Arg("bool", default=False),
    "use_proxy": Arg("bool", default=True),
    "http_agent": Arg(default="kprov-get_url"),
    "force_basic_auth": Arg("bool", default=False),
    "tmp_dest": Arg(),
    "decompress": Arg("bool", default=True),
    **FILE_ATTRS,
}

_ALGORITHMS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")


def _checksum(p: Mapping[str, Any]) -> tuple[str, str]:
    """The ``checksum`` argument as (algorithm, expected hex), both "" when not given."""
    if not p["checksum"]:
        return "", ""
    algorithm, _, expected = p["checksum"].partition(":")
    algorithm = algorithm.lower()
    if algorithm not in _ALGORITHMS or not expected:
        raise ModuleFailed(f"get_url: argument 'checksum' must be ALGORITHM:HEX with one of {_ALGORITHMS}")
    return algorithm, expected.strip().lower()


def _dest(p: Mapping[str, Any]) -> str:
    dest = str(p["dest"])
    if dest.endswith("/"):
        dest = posixpath.join(dest, posixpath.basename(p["url"].split("?")[0]) or "index.html")
    return dest


@dataclass(frozen=True)
class GetUrlPlan:
    """The one ``command`` that changes the host (the download script when ``download``,
    else the attribute fixes; empty: nothing to do) and what the task reports."""

    changed: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    diff: list[dict[str, Any]] = field(default_factory=list)
    command: str = field(default="", repr=False)  # may carry url_password
    download: bool = False
    timeout: int = 0


class GetUrlModule(ModuleBase):
    name = "get_url"
    spec = SPEC

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        p = parse_args(self.name, SPEC, args)
        _checksum(p)
        return p

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        algorithm, _ = _checksum(params)
        dest = _dest(params)
        q_dest = shlex.quote(dest)
        query = probe_script(dest, follow=True)
        if algorithm:
            query += f"; [ -f {q_dest} ] && {algorithm}sum -- {q_dest} | sed 's/ .*//; s/^/SUM:/'; true"
        return [query]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> GetUrlPlan:
        p = params
        algorithm, expected = _checksum(p)
        dest = _dest(p)
        (found,) = observed.values()
        state = parse_probe(dest, found.stdout)
        current_sum = next((line[4:] for line in found.stdout.splitlines() if line.startswith("SUM:")), "")
        need_download = bool(
            not state.exists or (algorithm and current_sum != expected) or (p["force"] and not algorithm)
        )
        wanted_mode = resolve_mode(p["mode"], state.mode if state.exists else None, module=self.name)
        attrs = (
            []
            if need_download
            else attribute_commands(state, owner=p["owner"], group=p["group"], mode=wanted_mode)
        )
        data: dict[str, Any] = {"dest": dest, "url": p["url"], "state": "file"}
        if algorithm:
            data["checksum_dest"] = current_sum or None
        if not (need_download or attrs):
            return GetUrlPlan(data=data)
        diff = [
            {
                "before": {"path": dest, "checksum": current_sum or None},
                "after": {"path": dest, "checksum": expected or "(downloaded)"},
            }
        ]
        if not need_download:
            return GetUrlPlan(changed=True, data=data, diff=diff, command=" && ".join(attrs))
        return GetUrlPlan(changed=True, data=data, diff=diff, download=True,
                          command=self._download_script(p, dest, algorithm, expected, wanted_mode),
                          timeout=p["timeout"] * 30 + 30)

    def act(self, ctx: ModuleContext, plan: GetUrlPlan) -> None:
        """The download script (or only the attribute fixes)."""
        dest, url = plan.data["dest"], plan.data["url"]
        if not plan.download:
            fixed = ctx.run(plan.command)
            if fixed.rc != 0:
                raise ModuleFailed(f"get_url: cannot set attributes of {dest}: {fixed.stderr.strip()}")
            return
        done = ctx.run(plan.command, timeout=plan.timeout)
        if done.rc != 0:
            raise ModuleFailed(f"get_url: {url}: {done.stderr.strip() or done.stdout.strip()}", **plan.data)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        return decide_then_act(self, ctx, args)

    @staticmethod
    def _download_script(
        p: Mapping[str, Any], dest: str, algorithm: str, expected: str, mode: int | None
    ) -> str:
        q_dest, q_url = shlex.quote(dest), shlex.quote(p["url"])
        tmp = f'"$(dirname {q_dest})/.$(basename {q_dest}).kprov-$$"'
        curl = [
            f"curl -fsSL --max-time {p['timeout'] * 30} --connect-timeout {p['timeout']}",
            f"-A {shlex.quote(p['http_agent'])}",
        ]
        wget = [f"wget -q -T {p['timeout']}", f"-U {shlex.quote(p['http_agent'])}"]
        if not p["validate_certs"]:
            curl.append("-k")
            wget.append("--no-check-certificate")
        if p["url_username"]:
            auth = f"{p['url_username']}:{p['url_password'] or ''}"
            curl.append(f"-u {shlex.quote(auth)}")
        for key, value in (p["headers"] or {}).items():
            curl.append(f"-H {shlex.quote(f'{key}: {value}')}")
            wget.append(f"--header={shlex.quote(f'{key}: {value}')}")
        lines = [
            "set -e",
            f"t={tmp}",
            "trap 'rm -f \"$t\"' EXIT",
            f'if command -v curl >/dev/null; then {" ".join(curl)} -o "$t" {q_url}; '
            f'else {" ".join(wget)} -O "$t" {q_url}; fi',
        ]
        if algorithm:
            lines.append(f"got=$({algorithm}sum \"$t\" | cut -d' ' -f1)")
            lines.append(
                f'[ "$got" = {expected} ] || {{ echo "The checksum for $t did not match '
                f'{expected}; it was $got." >&2; exit 1; }}'
            )
        lines.append(
            f'if [ -e {q_dest} ]; then chmod --reference={q_dest} "$t"; '
            f'chown --reference={q_dest} "$t" 2>/dev/null || true; else chmod 0644 "$t"; fi'
        )
        if p["owner"] or p["group"]:
            spec = (p["owner"] or "") + (f":{p['group']}" if p["group"] else "")
            lines.append(f'chown {shlex.quote(spec)} "$t"')
        if mode is not None:
            lines.append(f'chmod {mode:04o} "$t"')
        lines.append(f'mv -f "$t" {q_dest}')
        return "\n".join(lines)


MODULE = GetUrlModule()
