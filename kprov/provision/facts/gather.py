"""Ansible-named host facts, gathered in ONE command per host.

A fact is a command plus a parser: ``SECTIONS`` pairs a section name with the shell that
prints its raw text and the function that turns that text into facts. All sections are
joined into one script (each prints a ``@@kprov:<name>`` marker first; a missing tool
only leaves its section empty), run once, split on the markers and parsed. The result is the
``ansible_facts`` dict with Ansible's names (``hostname``, ``default_ipv4.address``,
``distribution_major_version``, ``python.version``, ...), without the ``ansible_`` prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kprov.provision.connect.base import Connector
from kprov.provision.facts import parsers

__all__ = ["FACTS_SCRIPT", "SECTIONS", "FactsError", "gather_facts", "parse_facts"]

_MARK = "@@kprov:"

Parser = Callable[[str, dict[str, Any]], None]

SECTIONS: tuple[tuple[str, str, Parser], ...] = (
    ("uname", "uname -n; uname -r; uname -m; uname -s; uname -v", parsers.uname),
    ("hostname", "hostname 2>/dev/null || cat /proc/sys/kernel/hostname; "
                 "timeout 2 hostname -f 2>/dev/null || echo", parsers.hostname),
    ("os_release", "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release", parsers.os_release),
    ("debian_version", "cat /etc/debian_version 2>/dev/null", parsers.debian_version),
    ("route", "ip -4 route show default 2>/dev/null | head -n1", parsers.default_route),
    ("addrs", "ip -4 -o addr show 2>/dev/null", parsers.ipv4_addresses),
    ("links", "ip -o link show 2>/dev/null", parsers.links),
    ("cpuinfo", "grep -E '^(processor|physical id|core id|cpu cores|siblings|model name|vendor_id)'"
                " /proc/cpuinfo; echo nproc: $(nproc 2>/dev/null)", parsers.cpuinfo),
    ("meminfo", "grep -E '^(MemTotal|MemFree|SwapTotal|SwapFree):' /proc/meminfo", parsers.meminfo),
    ("python", "for p in python3 python; do command -v $p >/dev/null 2>&1 && { $p -c "
               "'import sys,platform;print(sys.executable);print(list(sys.version_info))'; break; }; done",
     parsers.python),
    ("service_mgr", "cat /proc/1/comm 2>/dev/null; [ -d /run/systemd/system ] && echo run-systemd-system",
     parsers.service_mgr),
    ("machine_id", "cat /etc/machine-id 2>/dev/null", parsers.machine_id),
    ("user", "id -un; id -u; id -g; echo \"$HOME\"; echo \"$SHELL\"", parsers.user),
    ("date", "date +%s", parsers.date_time),
    ("virt", "systemd-detect-virt 2>/dev/null", parsers.virtualization),
    ("env", "env", parsers.environment),
)

FACTS_SCRIPT = "\n".join(
    f"echo '{_MARK}{name}'; {{ {command}; }} 2>/dev/null" for name, command, _ in SECTIONS
)


class FactsError(RuntimeError):
    """The facts script could not run on the host."""


def split_sections(text: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith(_MARK):
            if current is not None:
                sections[current] = "\n".join(lines)
            current, lines = line[len(_MARK):].strip(), []
        elif current is not None:
            lines.append(line)
    if current is not None:
        sections[current] = "\n".join(lines)
    return sections


def parse_facts(text: str) -> dict[str, Any]:
    """The facts dict from the script's whole output."""
    sections = split_sections(text)
    facts: dict[str, Any] = {}
    for name, _, parse in SECTIONS:
        parse(sections.get(name, ""), facts)
    parsers.finish(facts)
    return facts


def gather_facts(connector: Connector) -> dict[str, Any]:
    """Run the facts script on the host (one round trip) and parse it."""
    result = connector.run(FACTS_SCRIPT, timeout=60)
    if _MARK not in result.stdout:
        raise FactsError(
            f"{connector.host}: gathering facts failed (rc={result.rc}): {result.stderr.strip()}"
        )
    return parse_facts(result.stdout)
