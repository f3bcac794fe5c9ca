"""Probe prefetch: the read-only probes of many tasks (or loop items) in ONE round trip.

A no-op task still costs a round trip, because its module first probes the host. Before
tasks run, the engine asks each one's module for the probes it declares
(``Module.probes``; execute.probe_plan). The keys run on the host in one batch, and the
results go into the host's probe cache (execute.probecache), where the modules find them.
A prediction that turns out wrong (the task's variables changed in between) only costs a
cache miss: the module then probes live.

The batch runs each command in a subshell of one shell, stdout and stderr framed by a random
token line after each command (no temporary files, no per-command exec): the host forks once
per probe plus what the probes themselves run. File probes go first and are answered by one
python3 process (execute.fileprobes), with the shell as the fallback. The unit probes
(``systemctl show UNIT``) and the apt package probes each run as one command of all of
them, split back per task (execute.merged_probes); what does not split is left to run live.

A batch is one argument of the host's shell (``sh -c SCRIPT``, quoted once more by the
connector), and Linux caps a single argument at 128 KiB (MAX_ARG_STRLEN): a bigger one fails
to exec (rc 126, "Argument list too long"). A loop over the 165 files of an offline bundle's
package repository made one such batch, and every copy then probed live. So probes are split
into batches of at most ``MAX_BATCH_BYTES`` (quoted), each its own round trip.
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import Callable

from kprov.provision.connect.base import CommandResult, Connector
from kprov.provision.execute.probes.fileprobes import file_probe, native_script
from kprov.provision.execute.probes.merged_probes import MERGERS
from kprov.provision.modules.base import ProbeKey

__all__ = ["MAX_BATCH_BYTES", "Prefetched", "batch_script", "parse_batch", "prefetch",
           "split_batches"]

Prefetched = dict[ProbeKey, CommandResult]

# below the kernel's 128 KiB for one argument, with room for the connector's own wrapping
MAX_BATCH_BYTES = 100_000


def batch_script(commands: list[str], token: str) -> str:
    """One shell running each command in its own subshell; after each, a frame line
    ``\\n<token>:<i>:<rc>`` on stdout and ``\\n<token>:<i>`` on stderr."""
    frame = (f"printf '\\n{token}:%s:%s\\n' \"$1\" \"$2\"; "
             f"printf '\\n{token}:%s\\n' \"$1\" >&2")
    lines = [f"_kprov_f() {{ {frame}; }}"]
    files = []  # the leading file probes (prefetch puts them first)
    for cmd in commands:
        probe = file_probe(cmd)
        if probe is None:
            break
        files.append(probe)
    if len(files) > 1:
        lines.append(native_script(files, commands[:len(files)], token, 0, "_kprov_f"))
    else:
        files = []
    for i, cmd in enumerate(commands[len(files):], len(files)):
        lines.append(f"(\n{cmd}\n) </dev/null; _kprov_f {i} $?")
    return "\n".join(lines)


def _split(stream: str, token: str, count: int, with_rc: bool) -> list[tuple[str, int]] | None:
    """Each command's text (and rc) in ``stream``; None when a frame is missing or garbled."""
    parts: list[tuple[str, int]] = []
    at = 0
    for i in range(count):
        mark = f"\n{token}:{i}" + (":" if with_rc else "\n")
        found = stream.find(mark, at)
        if found < 0:
            return None
        text, at, rc = stream[at:found], found + len(mark), 0
        if with_rc:
            end = stream.find("\n", at)
            if end < 0 or not stream[at:end].isdigit():
                return None
            rc, at = int(stream[at:end]), end + 1
        parts.append((text, rc))
    return parts


def parse_batch(stdout: str, stderr: str, token: str, count: int) -> list[CommandResult] | None:
    """The commands' results in order, or None when the output is not a complete batch."""
    outs = _split(stdout, token, count, with_rc=True)
    errs = _split(stderr, token, count, with_rc=False)
    if outs is None or errs is None:
        return None
    return [CommandResult(rc, out, err) for (out, rc), (err, _) in zip(outs, errs, strict=True)]


def split_batches(commands: list[str], limit: int = MAX_BATCH_BYTES) -> list[list[str]]:
    """``commands`` in order, in runs whose batch script stays within ``limit`` bytes once
    quoted (halved until it does; a single command over it is a run of its own)."""
    if len(commands) < 2 or len(shlex.quote(batch_script(commands, "@@kprov-0123456789abcdef"))) <= limit:
        return [commands]
    half = len(commands) // 2
    return split_batches(commands[:half], limit) + split_batches(commands[half:], limit)


def prefetch(connector: Connector, keys: list[ProbeKey], log: Callable[[str], None]) -> Prefetched:
    """Run the probes (grouped by become settings) and return their results by key."""
    found: Prefetched = {}
    groups: dict[tuple[bool, str | None], list[str]] = {}
    for cmd, become, user in dict.fromkeys(keys):
        groups.setdefault((become, user), []).append(cmd)
    for commands in groups.values():
        commands.sort(key=lambda cmd: file_probe(cmd) is None)  # file probes first, in order
    for (become, user), wanted in groups.items():
        if len(wanted) < 2:
            continue  # nothing to save
        for batch in split_batches(wanted):
            found.update(_run_batch(connector, batch, become, user, log))
    return found


def _run_batch(connector: Connector, wanted: list[str], become: bool, user: str | None,
               log: Callable[[str], None]) -> Prefetched:
    commands, merged = wanted, []
    for merger in MERGERS:
        commands, originals = merger.merge(commands)
        merged.append(originals)
    token = f"@@kprov-{secrets.token_hex(8)}"
    done = connector.run(batch_script(commands, token), become=become, become_user=user)
    results = parse_batch(done.stdout, done.stderr, token, len(commands)) if done.rc == 0 else None
    if results is None:
        log(f"probe prefetch failed (rc {done.rc}); tasks probe one by one")
        return {}
    # each merger that merged put its command last, in MERGERS' order
    pairs = reversed(list(zip(MERGERS, merged, strict=True)))
    tails = [(merger, originals, results.pop()) for merger, originals in pairs if originals]
    commands = commands[:len(results)]
    for merger, originals, result in tails:
        split = merger.split(result, originals)
        if split is not None:
            commands += originals
            results += split
    return {(cmd, become, user): res for cmd, res in zip(commands, results, strict=True)}
