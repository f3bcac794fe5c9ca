"""Render a :class:`~.ruleset.Ruleset` as nftables script text, and apply it with ``nft -f``.

Two renderings, each one atomic transaction (``nft -f`` commits a file as one batch):

- :func:`render_full`: ``add table; delete table;`` then the whole table — the first sync,
  and the fallback whenever an incremental update fails or a base chain/set declaration
  changed.
- :func:`render_delta`: only what differs between the last applied ruleset and the new
  one — chains added, refilled (``flush chain`` + rules) or deleted, sets added or
  deleted, map elements added or deleted. One endpoint change in 1,000 services touches
  one chain (and maybe a few elements), so the transaction stays tiny.

:class:`NftApplier` runs ``nft -f -`` (optionally under a command prefix such as
``ip netns exec NAME``) and remembers the last ruleset it applied, so an unchanged ruleset
costs nothing. :meth:`NftApplier.start` hands the script to nft and returns at once (a
:class:`PendingApply` to finish), so a caller with several tables (kube-proxy's ``ip`` and
``ip6``) can compute the next table's rules in Python while nft parses and commits this one.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from collections.abc import Sequence

from kprov.cluster.client.metrics import exponential_buckets
from kprov.cluster.nftables.ruleset import Ruleset, Touched

__all__ = ["NftApplier", "NftError", "PendingApply", "SYNC_BUCKETS", "render_delta", "render_full"]

log = logging.getLogger(__name__)
# kube-proxy's sync-duration buckets, for any agent that programs a table
SYNC_BUCKETS = exponential_buckets(0.001, 2, 15)


class NftError(RuntimeError):
    """nft refused a transaction; the message carries nft's own error text."""


def _element(key: str, value: str) -> str:
    return f"{key} : {value}" if value else key


def _elements(set_name: str, items: dict[str, str], verb: str, table: str) -> list[str]:
    if not items:
        return []
    body = ", ".join(_element(k, v) for k, v in items.items())
    return [f"{verb} element {table} {set_name} {{ {body} }}"]


def render_full(ruleset: Ruleset, table: str) -> str:
    """The whole ``table`` (``family name``, e.g. ``ip kprov``) as one transaction."""
    lines = [f"add table {table}", f"delete table {table}", f"table {table} {{"]
    for named in ruleset.sets.values():
        kind = "map" if ":" in named.type else "set"
        lines.append(f"\t{kind} {named.name} {{ {named.declaration} }}")
    for chain in ruleset.chains.values():
        lines.append(f"\tchain {chain.name} {{")
        if chain.hook:
            lines.append(f"\t\t{chain.hook}")
        lines.extend(f"\t\t{rule}" for rule in chain.rules)
        lines.append("\t}")
    lines.append("}")
    for set_name, items in ruleset.elements.items():
        lines.extend(_elements(set_name, items, "add", table))
    return "\n".join(lines) + "\n"


def render_delta(old: Ruleset, new: Ruleset, touched: Touched | None = None, *, table: str) -> str | None:
    """The transaction turning ``old`` into ``new``: "" if equal, None if only a full sync can.

    ``touched`` (from :class:`~kprov.cluster.proxy.rules.RulesCompiler`) limits the comparison to the names
    that may differ; without it everything is compared.
    """
    if touched is None:
        chain_names = old.chains.keys() | new.chains.keys()
        set_names = old.sets.keys() | new.sets.keys()
        element_refs = {
            (name, key) for rs in (old, new) for name, items in rs.elements.items() for key in items
        }
    else:
        chain_names, set_names, element_refs = touched.chains, touched.sets, touched.elements
    for name in set_names:
        if name in old.sets and name in new.sets and old.sets[name] != new.sets[name]:
            return None
    for name in chain_names:
        before, after = old.chains.get(name), new.chains.get(name)
        if before != after and ((before and before.hook) or (after and after.hook)):
            return None
    lines: list[str] = []
    for name in sorted(set_names):
        if name in new.sets and name not in old.sets:
            named = new.sets[name]
            kind = "map" if ":" in named.type else "set"
            lines.append(f"add {kind} {table} {name} {{ {named.declaration} }}")
    added = [new.chains[n] for n in sorted(chain_names) if n in new.chains and n not in old.chains]
    changed = [
        new.chains[n]
        for n in sorted(chain_names)
        if n in new.chains and n in old.chains and old.chains[n] != new.chains[n]
    ]
    removed = [n for n in sorted(chain_names) if n in old.chains and n not in new.chains]
    lines.extend(f"add chain {table} {c.name}" for c in added)
    lines.extend(f"flush chain {table} {c.name}" for c in changed)
    for chain in (*added, *changed):
        lines.extend(f"add rule {table} {chain.name} {rule}" for rule in chain.rules)
    gone: dict[str, dict[str, str]] = {}
    fresh: dict[str, dict[str, str]] = {}
    for set_name, key in sorted(element_refs):
        old_element = old.elements.get(set_name, {}).get(key)
        new_element = new.elements.get(set_name, {}).get(key)
        if old_element == new_element:
            continue
        if old_element is not None and set_name in new.sets:
            gone.setdefault(set_name, {})[key] = ""
        if new_element is not None:
            fresh.setdefault(set_name, {})[key] = new_element
    for set_name, items in gone.items():
        lines.extend(_elements(set_name, items, "delete", table))
    for set_name, items in fresh.items():
        lines.extend(_elements(set_name, items, "add", table))
    lines.extend(f"flush chain {table} {name}" for name in removed)
    lines.extend(f"delete chain {table} {name}" for name in removed)
    for name in sorted(set_names):
        if name in old.sets and name not in new.sets:
            lines.append(f"delete {'map' if ':' in old.sets[name].type else 'set'} {table} {name}")
    return "\n".join(lines) + "\n" if lines else ""


class PendingApply:
    """One ``nft -f`` under way for :meth:`NftApplier.start`; :meth:`finish` waits for it."""

    def __init__(self, applier: NftApplier, ruleset: Ruleset, script: str, kind: str) -> None:
        self._applier, self._ruleset, self._kind = applier, ruleset, kind
        self._process: subprocess.Popen[str] | None = None
        if kind == "unchanged":
            return
        # a file, not a pipe, so nft never blocks on it; finish() closes it
        errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self._process = subprocess.Popen(applier.command, stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=errors, text=True)
        self._errors = errors
        assert self._process.stdin is not None
        try:  # returns once nft has read all but a pipe's worth; it parses and commits on its own
            self._process.stdin.write(script)
            self._process.stdin.close()
        except BrokenPipeError:  # nft exited early: finish() reports its error
            pass

    def finish(self) -> str:
        """Wait for nft; "unchanged", "delta" or "full" (a failed delta falls back to a full
        sync, run here); raises :class:`NftError` when nft refuses the full one."""
        if self._process is None:
            return "unchanged"
        with self._errors:
            code = self._process.wait()
            self._errors.seek(0)
            err = self._errors.read()
        applier = self._applier
        if code == 0:
            applier.applied = self._ruleset
            return self._kind
        error = NftError(f"nft -f failed (rc={code}): {err.strip()[:2000]}")
        if self._kind == "full":
            raise error
        log.warning("incremental nft update failed, doing a full sync: %s", error)
        applier.applied = None
        applier._run(render_full(self._ruleset, applier.table))
        applier.applied = self._ruleset
        return "full"


class NftApplier:
    """Applies rulesets with as small a transaction as possible; full sync on any doubt."""

    def __init__(self, command_prefix: Sequence[str] = (), nft: str = "nft", *, table: str) -> None:
        self.command = [*command_prefix, nft, "-f", "-"]
        self.table = table
        self.applied: Ruleset | None = None

    def _run(self, script: str) -> None:
        result = subprocess.run(self.command, input=script, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise NftError(f"nft -f failed (rc={result.returncode}): {result.stderr.strip()[:2000]}")

    def start(self, ruleset: Ruleset) -> PendingApply:
        """Render the transaction bringing the kernel to ``ruleset`` and start nft on it."""
        delta = None
        if self.applied is not None:
            hint = ruleset.touched if ruleset.previous is self.applied else None
            delta = render_delta(self.applied, ruleset, hint, table=self.table)
        if delta == "":
            return PendingApply(self, ruleset, "", "unchanged")
        if delta is not None:
            return PendingApply(self, ruleset, delta, "delta")
        self.applied = None
        return PendingApply(self, ruleset, render_full(ruleset, self.table), "full")

    def apply(self, ruleset: Ruleset) -> str:
        """Bring the kernel to ``ruleset``; returns "unchanged", "delta" or "full"."""
        return self.start(ruleset).finish()

    def forget(self) -> None:
        """Make the next apply a full sync (e.g. after someone else changed the table)."""
        self.applied = None
