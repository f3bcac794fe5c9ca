"""Probe prefetch for loops: the read-only first commands of all items in ONE round trip.

A loop of file tasks (copy, template, file, stat, sysctl) costs a round trip per item even when
nothing changes, because each item's module first probes its path. Before such a loop runs,
each item's module is run against a recording connector that stops it at its first command
(for these modules always its probe, which only reads); those commands then run on the host
in one batch, and each item's module receives its own probe's result instead of sending it.

The host's state is still read live in this run, just before the loop. The first command
that is not a prefetched probe (an item acting: a write, a chmod) or any upload drops what
is left, so later items probe live again and never act on state older than the last change.
"""

from __future__ import annotations

import base64
import secrets
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult, Connector
from kprov.provision.modules.base import Module, ModuleContext

__all__ = ["PREFETCHABLE", "Key", "Prefetched", "batch_script", "first_command", "parse_batch", "prefetch"]

# Modules whose first command is a read-only probe of the host (never an action).
PREFETCHABLE = frozenset({"copy", "template", "file", "stat", "sysctl"})

Key = tuple[str, bool, "str | None"]  # (command, become, become_user)
Prefetched = dict[Key, CommandResult]


class _Stop(Exception):
    def __init__(self, key: Key | None) -> None:
        super().__init__("probe recorded")
        self.key = key


class _RecordingConnector(Connector):
    """Stops a module at its first remote operation, keeping the command if it is one."""

    def __init__(self, host: str) -> None:
        self.host = host

    def connect(self) -> None:
        return None

    def run(self, cmd: str, *, become: bool = False, become_user: str | None = None,
            stdin: bytes | None = None, timeout: float | None = None) -> CommandResult:
        raise _Stop(None if stdin is not None else (cmd, become, become_user))

    def put(self, data: bytes, path: str, *, mode: int | None = None, become: bool = False,
            owner: str | None = None, group: str | None = None) -> None:
        raise _Stop(None)

    def get(self, path: str, *, become: bool = False) -> bytes:
        raise _Stop(None)

    def close(self) -> None:
        return None


def first_command(module: Module, ctx: ModuleContext, args: Mapping[str, Any]) -> Key | None:
    """The command ``module`` would send first for ``args`` (None: it would not send one)."""
    try:
        module.run(ctx, args)
    except _Stop as stop:
        return stop.key
    except Exception:  # noqa: BLE001 - the real run reports it
        return None
    return None


def batch_script(commands: list[str], token: str) -> str:
    """Shell running each command in its own ``/bin/sh -c``; outputs come back base64-framed."""
    lines = ['t=$(mktemp -d) || exit 1', "trap 'rm -rf \"$t\"' EXIT"]
    for i, cmd in enumerate(commands):
        lines.append(f'/bin/sh -c {shlex.quote(cmd)} >"$t/{i}.o" 2>"$t/{i}.e" </dev/null;'
                     f' echo $? >"$t/{i}.r"')
    lines.append(f'for i in $(seq 0 {len(commands) - 1}); do'
                 f' printf \'{token}:%s:%s\\n\' "$i" "$(cat "$t/$i.r")";'
                 ' base64 -w0 "$t/$i.o"; echo; base64 -w0 "$t/$i.e"; echo; done')
    return "\n".join(lines)


def parse_batch(stdout: str, token: str, count: int) -> list[CommandResult] | None:
    """The commands' results in order, or None when the output is not a complete batch."""
    lines = stdout.split("\n")
    results: list[CommandResult] = []
    for i in range(count):
        at = 3 * i
        if at + 2 >= len(lines):
            return None
        head = lines[at].split(":")
        if len(head) != 3 or head[0] != token or head[1] != str(i) or not head[2].isdigit():
            return None
        out = base64.b64decode(lines[at + 1]).decode("utf-8", "replace")
        err = base64.b64decode(lines[at + 2]).decode("utf-8", "replace")
        results.append(CommandResult(int(head[2]), out, err))
    return results


def prefetch(connector: Connector, keys: list[Key], log: Callable[[str], None]) -> Prefetched:
    """Run the probes (grouped by become settings) and return their results by key."""
    found: Prefetched = {}
    groups: dict[tuple[bool, str | None], list[str]] = {}
    for cmd, become, user in dict.fromkeys(keys):
        groups.setdefault((become, user), []).append(cmd)
    for (become, user), commands in groups.items():
        if len(commands) < 2:
            continue  # nothing to save
        token = secrets.token_hex(8)
        done = connector.run(batch_script(commands, token), become=become, become_user=user)
        results = parse_batch(done.stdout, token, len(commands)) if done.rc == 0 else None
        if results is None:
            log(f"probe prefetch failed (rc {done.rc}); items probe one by one")
            continue
        found.update({(cmd, become, user): res for cmd, res in zip(commands, results, strict=True)})
    return found


def recording_connector(host: str) -> Connector:
    return _RecordingConnector(host)
