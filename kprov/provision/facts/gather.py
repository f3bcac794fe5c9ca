"""Ansible-named host facts, gathered in ONE command per host.

A fact is a command plus a parser: ``SECTIONS`` pairs a section name with the shell that
prints its raw text and the function that turns that text into facts. All sections are
joined into one script (each prints a ``@@kprov:<name>`` marker first; a missing tool
only leaves its section empty), run once, split on the markers and parsed. The result is the
``ansible_facts`` dict with Ansible's names (``hostname``, ``default_ipv4.address``,
``distribution_major_version``, ``python.version``, ...), without the ``ansible_`` prefix.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from kprov.provision.connect.base import Connector
from kprov.provision.execute.pending import read_command
from kprov.provision.facts import mounts, parsers, system

__all__ = ["DEFAULT_FACT_PATH", "FACTS_SCRIPT", "SECTIONS", "FactsError", "facts_from_result", "facts_script",
           "gather_facts", "parse_facts"]

DEFAULT_FACT_PATH = "/etc/ansible/facts.d"

_MARK = "@@kprov:"

Parser = Callable[[str, dict[str, Any]], None]

# Builtins only where possible (``_rd`` prints a file with ``read``; ``export -p``), so the
# whole script forks about a dozen processes: under load each fork costs a host tens of ms.
# cpuinfo and status are the exception: /proc files cannot seek, so ``read`` takes them a byte
# per system call, 3.8 ms of a lab host's CPU against 1 for ``cat`` (meminfo costs the same
# either way).
_PRELUDE = '_rd() { while IFS= read -r l || [ -n "$l" ]; do printf \'%s\\n\' "$l"; done < "$1"; }'

_DMI_SCRIPT = (f"for f in {' '.join(system.DMI_FILES)}; do "
               "printf '%s=' \"$f\"; _rd /sys/class/dmi/id/$f 2>/dev/null || echo NA; done")
_SECURITY_SCRIPT = ("[ -d /sys/kernel/security/apparmor ] && echo apparmor; "
                    "_rd /proc/sys/crypto/fips_enabled; "
                    "if [ -r /proc/1/root/. ]; then [ / -ef /proc/1/root ] || echo chroot; fi")
# Every ``*.fact`` of the fact path, as Ansible's local facts collector takes them: one it
# cannot stat (a dangling link) is reported, an executable one runs (its stdout is the fact,
# its stderr the error when it exits non-zero), any other is read. Each file's text follows a
# ``<mark><how>:<rc>:<path>`` line (system.local_facts).
_FACTS_D_SCRIPT = (
    'd=@FACT_PATH@; [ -d "$d" ] && for f in "$d"/*.fact; do '
    f'if [ ! -e "$f" ]; then [ -L "$f" ] && echo "{system.FACTS_D_MARK}stat:0:$f"; '
    f'elif [ -x "$f" ] && [ ! -d "$f" ]; then e=$(mktemp); o=$("$f" 2>"$e"); r=$?; '
    f'echo "{system.FACTS_D_MARK}exec:$r:$f"; if [ $r = 0 ]; then printf \'%s\\n\' "$o"; '
    'else _rd "$e"; fi; rm -f "$e"; '
    f'elif [ -f "$f" ]; then echo "{system.FACTS_D_MARK}read:0:$f"; _rd "$f"; fi; done'
)


def facts_script(fact_path: str = DEFAULT_FACT_PATH) -> str:
    """The whole facts script, its local facts read from ``fact_path`` (setup's option)."""
    return _script(shlex.quote(fact_path))


SECTIONS: tuple[tuple[str, str, Parser], ...] = (
    ("uname", "uname -snrvm", parsers.uname),
    (
        "hostname",
        "_rd /proc/sys/kernel/hostname; timeout 2 hostname -f 2>/dev/null || echo",
        parsers.hostname,
    ),
    ("os_release", "_rd /etc/os-release || _rd /usr/lib/os-release", parsers.os_release),
    ("debian_version", "_rd /etc/debian_version", parsers.debian_version),
    (
        "net",
        # one ip process for both families: route show is IPv4's; a route get of a global IPv6
        # address (Ansible's) gives the default IPv6 route, -force goes on when there is none
        f"ip -o -force -batch - <<'KPROV_IP'\nroute show default\naddr show\nlink show\n"
        f"route get {parsers.IPV6_PROBE}\nKPROV_IP\n",
        parsers.network,
    ),
    ("cpuinfo", "cat /proc/cpuinfo /proc/self/status", parsers.cpuinfo),
    ("meminfo", "_rd /proc/meminfo", parsers.meminfo),
    ("python", "for p in python3 python; do command -v $p && $p -V 2>&1 && break; done", parsers.python),
    (
        "service_mgr",
        "_rd /proc/1/comm; [ -d /run/systemd/system ] && echo run-systemd-system && systemctl --version",
        parsers.service_mgr,
    ),
    ("machine_id", "_rd /etc/machine-id", parsers.machine_id),
    ("user", 'id; echo "$HOME"; echo "$SHELL"', parsers.user),
    ("date", "date '+%s %N %z %Z'; _rd /etc/timezone", system.date_time),
    ("passwd", "_rd /etc/passwd", parsers.passwd),
    ("uptime", "_rd /proc/uptime", system.uptime),
    ("loadavg", "_rd /proc/loadavg", system.loadavg),
    ("cmdline", "_rd /proc/cmdline", system.cmdline),
    ("dns", "_rd /etc/resolv.conf", system.dns),
    ("lsb", f"_rd /etc/lsb-release; command -v lsb_release >/dev/null && echo {system.LSB_RELEASE_MARK}",
     system.lsb),
    ("dmi", _DMI_SCRIPT, system.dmi),
    ("security", _SECURITY_SCRIPT, system.security),
    ("facts_d", _FACTS_D_SCRIPT, system.local_facts),
    (
        "virt",
        parsers.VIRT_SCRIPT,
        parsers.virtualization,
    ),
    ("env", "export -p", parsers.environment),
    ("mounts", mounts.MOUNTS_SCRIPT, mounts.mounts),
    ("selinux", mounts.SELINUX_SCRIPT, mounts.selinux),
    ("kprov_pending_handlers", read_command(), parsers.pending_handlers),
)


def _script(fact_path: str) -> str:
    return (
        _PRELUDE
        + "\n"
        + "\n".join(f"echo '{_MARK}{name}'; {{ {command.replace('@FACT_PATH@', fact_path)}\n}}"
                    " 2>/dev/null" for name, command, _ in SECTIONS)
    )


FACTS_SCRIPT = facts_script()


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
            current, lines = line[len(_MARK) :].strip(), []
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


def facts_from_result(host: str, rc: int, stdout: str, stderr: str) -> dict[str, Any]:
    """The facts of one run of FACTS_SCRIPT; FactsError when the script did not run."""
    if _MARK not in stdout:
        raise FactsError(f"{host}: gathering facts failed (rc={rc}): {stderr.strip()}")
    return parse_facts(stdout)


def gather_facts(connector: Connector) -> dict[str, Any]:
    """Run the facts script on the host (one round trip) and parse it."""
    result = connector.run(FACTS_SCRIPT, timeout=60)
    return facts_from_result(connector.host, result.rc, result.stdout, result.stderr)
