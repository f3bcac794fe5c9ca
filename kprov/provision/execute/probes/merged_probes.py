"""Probes of one kind merged into one command of a batch, and its output split back exactly.

Some probes cost more to start than to answer: ``systemctl show UNIT`` connects to the
service manager, ``dpkg-query -W NAMES`` reads and parses dpkg's whole status database
(ten names at once cost little more than one). A host's look-ahead batch carries
one per unit task and one per apt task (a control-plane host: six package probes, nine
units), so each kind is asked once, for the union, and each task gets the part it would
have got alone:

* units: ``systemctl show U1 U2 ...`` prints each unit's block in order, an empty line
  between them; when the output does not split into one block per unit, nothing is split.
* packages (the apt module's state probe, plain package names only): dpkg-query prints one
  line per known package, in its database's order whatever order the names came in, and a
  name given twice once. A task's part is the merged output's lines of its own names, in
  that order, which is what it prints alone; the probe always exits 0 and sends nothing to
  stderr (``2>/dev/null; true``).

A merger that cannot split its result leaves its tasks to probe live (a cache miss).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.packages.apt import PACKAGE_FORMAT, package_query

__all__ = ["MERGERS", "Merger", "merge_package_queries", "merge_unit_queries", "split_package_query",
           "split_unit_query"]

_SHOW = re.compile(r"^systemctl show ([A-Za-z0-9@._:-]+)$")
_PACKAGES = re.compile(
    "^dpkg-query -W -f='" + re.escape(PACKAGE_FORMAT) + r"' ([a-z0-9][a-z0-9+.-]*(?: [a-z0-9][a-z0-9+.-]*)*)"
    + re.escape(" 2>/dev/null\ntrue") + "$")


def merge_unit_queries(commands: list[str]) -> tuple[list[str], list[str]]:
    """The commands with every plain ``systemctl show UNIT`` replaced by one query of all
    those units (at the end), and the merged commands in order (empty: nothing merged)."""
    shows = [c for c in commands if _SHOW.match(c)]
    if len(shows) < 2:
        return commands, []
    units = " ".join(_SHOW.match(c).group(1) for c in shows)  # type: ignore[union-attr]
    return [c for c in commands if not _SHOW.match(c)] + [f"systemctl show {units}"], shows


def split_unit_query(result: CommandResult, shows: list[str]) -> list[CommandResult] | None:
    """Each unit's own ``systemctl show`` result out of the merged one (None: cannot tell)."""
    if result.rc != 0 or result.stderr or not result.stdout.endswith("\n"):
        return None
    blocks = result.stdout.split("\n\n")
    if len(blocks) != len(shows) or not all(b and "=" in b.split("\n", 1)[0] for b in blocks):
        return None
    texts = [b + "\n" for b in blocks[:-1]] + [blocks[-1]]
    return [CommandResult(0, text, "") for text in texts]


def _names(command: str) -> list[str] | None:
    match = _PACKAGES.match(command)
    return match.group(1).split(" ") if match else None


def merge_package_queries(commands: list[str]) -> tuple[list[str], list[str]]:
    """The commands with every apt package probe replaced by one probe of all their names
    (at the end), and the merged probes in order (empty: fewer than two to merge)."""
    parsed = [(c, _names(c)) for c in commands]
    queries = [(c, names) for c, names in parsed if names is not None]
    if len(queries) < 2:
        return commands, []
    union = list(dict.fromkeys(n for _, names in queries for n in names))
    rest = [c for c, names in parsed if names is None]
    return [*rest, package_query(union)], [c for c, _ in queries]


def split_package_query(result: CommandResult, queries: list[str]) -> list[CommandResult] | None:
    """Each probe's own result out of the merged one (None: the output is not the probe's)."""
    if result.rc != 0 or result.stderr or (result.stdout and not result.stdout.endswith("\n")):
        return None
    lines = result.stdout.splitlines(keepends=True)
    if not all(line.startswith("PKG:") and "\t" in line for line in lines):
        return None
    owned = [(line[4:].split("\t", 1)[0], line) for line in lines]
    results = []
    for query in queries:
        wanted = set(_names(query) or [])
        results.append(CommandResult(0, "".join(line for name, line in owned if name in wanted), ""))
    return results


@dataclass(frozen=True)
class Merger:
    """One kind of mergeable probe: how to merge a batch's commands and split the result."""

    merge: Callable[[list[str]], tuple[list[str], list[str]]]
    split: Callable[[CommandResult, list[str]], list[CommandResult] | None]


MERGERS = (Merger(merge_unit_queries, split_unit_query), Merger(merge_package_queries, split_package_query))
