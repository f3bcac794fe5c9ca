"""More of the facts ansible-core's setup module reports, from files the facts script reads
with shell builtins (no process per fact): uptime, load, kernel command line, resolver, LSB,
DMI (``NA`` where unreadable, as Ansible), security (AppArmor, FIPS, chroot), local facts
(``/etc/ansible/facts.d``), the whole ``date_time`` in the host's own time zone, and the
facts derived from sections read already (``memory_mb``, the user's ids and GECOS,
``userspace_*``).

Not gathered (each would cost the host a process, or needs a tool a host may lack): IPv6
addresses, ``system_capabilities`` (capsh), ``lvm``, ``device_links``, iSCSI/FC names,
``virtualization_tech_*``.
"""

from __future__ import annotations

import configparser
import json
import shlex
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DMI_FILES", "FACTS_D_MARK", "LSB_RELEASE_MARK", "apply_derived", "cmdline", "date_time",
    "distribution_file", "dmi",
    "dns", "loadavg", "local_facts", "lsb", "security", "uptime",
]

# /sys/class/dmi/id/<file> -> fact name
DMI_FILES = {
    "bios_date": "bios_date", "bios_vendor": "bios_vendor", "bios_version": "bios_version",
    "board_asset_tag": "board_asset_tag", "board_name": "board_name", "board_serial": "board_serial",
    "board_vendor": "board_vendor", "board_version": "board_version",
    "chassis_asset_tag": "chassis_asset_tag", "chassis_serial": "chassis_serial",
    "chassis_vendor": "chassis_vendor", "chassis_version": "chassis_version",
    "product_name": "product_name", "product_serial": "product_serial", "product_uuid": "product_uuid",
    "product_version": "product_version", "sys_vendor": "system_vendor", "chassis_type": "_chassis_type",
}
# SMBIOS chassis types, by number (the names Ansible reports as form_factor)
_FORM_FACTORS = [
    "Unknown", "Other", "Unknown", "Desktop", "Low Profile Desktop", "Pizza Box", "Mini Tower",
    "Tower", "Portable", "Laptop", "Notebook", "Hand Held", "Docking Station", "All In One",
    "Sub Notebook", "Space-saving", "Lunch Box", "Main Server Chassis", "Expansion Chassis",
    "Sub Chassis", "Bus Expansion Chassis", "Peripheral Chassis", "RAID Chassis",
    "Rack Mount Chassis", "Sealed-case PC", "Multi-system", "CompactPCI", "AdvancedTCA", "Blade",
    "Blade Enclosure", "Tablet", "Convertible", "Detachable", "IoT Gateway", "Embedded PC",
    "Mini PC", "Stick PC",
]
FACTS_D_MARK = "@@kprov-fact:"
LSB_RELEASE_MARK = "@@kprov-lsb-release"


def uptime(text: str, facts: dict[str, Any]) -> None:
    fields = text.split()
    if fields:
        facts["uptime_seconds"] = int(float(fields[0]))


def loadavg(text: str, facts: dict[str, Any]) -> None:
    fields = text.split()
    if len(fields) >= 3:
        facts["loadavg"] = {"1m": float(fields[0]), "5m": float(fields[1]), "15m": float(fields[2])}


def cmdline(text: str, facts: dict[str, Any]) -> None:
    """``cmdline``: the last value of each word; ``proc_cmdline``: a list when it repeats."""
    try:
        words = shlex.split(text.strip())
    except ValueError:
        words = text.split()
    last: dict[str, Any] = {}
    every: dict[str, Any] = {}
    for word in words:
        key, eq, value = word.partition("=")
        item: Any = value if eq else True
        last[key] = item
        if key not in every:
            every[key] = item
        elif isinstance(every[key], list):
            every[key].append(item)
        else:
            every[key] = [every[key], item]
    facts["cmdline"] = last
    facts["proc_cmdline"] = every


def dns(text: str, facts: dict[str, Any]) -> None:
    found: dict[str, Any] = {}
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith(("#", ";")):
            continue
        key, values = words[0], words[1:]
        if key == "nameserver" and values:
            found.setdefault("nameservers", []).append(values[0])
        elif key == "domain" and values:
            found["domain"] = values[0]
        elif key == "search":
            found["search"] = values
        elif key == "sortlist":
            found["sortlist"] = values
        elif key == "options":
            options = found.setdefault("options", {})
            for option in values:
                name, eq, value = option.partition(":")
                options[name] = value if eq else True
    facts["dns"] = found


def lsb(text: str, facts: dict[str, Any]) -> None:
    """/etc/lsb-release; without it, where ``lsb_release`` is installed, what it prints, taken
    from os-release (as it reads it itself: no process started for it)."""
    names = {"DISTRIB_ID": "id", "DISTRIB_RELEASE": "release", "DISTRIB_DESCRIPTION": "description",
             "DISTRIB_CODENAME": "codename"}
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        if eq and key.strip() in names:
            found[names[key.strip()]] = value.strip().strip("\"'")
    os_release = facts.get("_os_release") or {}
    if not found and LSB_RELEASE_MARK in text and "VERSION_ID" in os_release:
        found = {"id": facts.get("distribution", ""), "description": os_release.get("PRETTY_NAME", ""),
                 "release": os_release["VERSION_ID"], "codename": facts.get("distribution_release", "")}
    if "release" in found:
        found["major_release"] = found["release"].split(".")[0]
    facts["lsb"] = found


def dmi(text: str, facts: dict[str, Any]) -> None:
    """``<file>=<value>`` lines (``NA`` when the file is missing or not readable)."""
    for line in text.splitlines():
        name, eq, value = line.partition("=")
        if eq and name in DMI_FILES:
            facts[DMI_FILES[name]] = value.strip() or "NA"
    for name in DMI_FILES.values():
        facts.setdefault(name, "NA")
    chassis = facts.pop("_chassis_type")
    known = chassis.isdigit() and int(chassis) < len(_FORM_FACTORS)
    facts["form_factor"] = _FORM_FACTORS[int(chassis)] if known else "NA"


def security(text: str, facts: dict[str, Any]) -> None:
    """Words: ``apparmor`` (its securityfs is there), the FIPS flag's value, ``chroot``."""
    words = text.split()
    facts["apparmor"] = {"status": "enabled" if "apparmor" in words else "disabled"}
    facts["fips"] = "1" in words
    facts["is_chroot"] = "chroot" in words


def local_facts(text: str, facts: dict[str, Any]) -> None:
    """The fact path's ``*.fact`` files by name, as Ansible's local facts collector reads
    them: a file's (or an executable one's output) JSON, else its INI sections; what is
    neither, a script that failed and a file that cannot be stat'ed are the error text."""
    found: dict[str, Any] = {}
    head, lines = "", list[str]()
    for line in [*text.splitlines(), FACTS_D_MARK]:
        if line.startswith(FACTS_D_MARK):
            if head:
                how, rc, path = head.split(":", 2)
                found[path.rsplit("/", 1)[-1].replace(".fact", "")] = _fact_file(
                    how, int(rc) if rc.lstrip("-").isdigit() else 1, path, "\n".join(lines))
            head, lines = line[len(FACTS_D_MARK):], []
        else:
            lines.append(line)
    facts["ansible_local"] = found  # its own name as a variable too (facts.names)


def _fact_file(how: str, rc: int, path: str, text: str) -> Any:
    if how == "stat":
        return f"Could not stat fact ({path}): [Errno 2] No such file or directory: '{path}'"
    if how == "exec" and rc != 0:
        return f"Failure executing fact script ({path}), rc: {rc}, err: {text}"
    try:
        return json.loads(text)
    except ValueError:
        pass
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error:
        return f"error loading facts as JSON or ini - please check content: {path}"
    fact: dict[str, Any] = {}
    for section in parser.sections():
        for option in parser.options(section):
            try:
                fact.setdefault(section, {})[option] = parser.get(section, option)
            except configparser.Error as exc:
                return f"error loading facts as ini - please check content: {path} ({exc})"
        fact.setdefault(section, {})
    return fact


def date_time(text: str, facts: dict[str, Any]) -> None:
    """``<epoch> <nanoseconds> <+hhmm> <abbreviation>`` from ``date``, then /etc/timezone."""
    lines = text.splitlines() + [""]
    fields = lines[0].split()
    if len(fields) < 4 or not fields[0].isdigit():
        return
    epoch, nanos, offset, abbreviation = int(fields[0]), fields[1], fields[2], fields[3]
    micros = int(nanos[:6]) if nanos[:6].isdigit() else 0
    sign = -1 if offset.startswith("-") else 1
    delta = timedelta(hours=int(offset[1:3] or 0), minutes=int(offset[3:5] or 0)) * sign
    moment = datetime.fromtimestamp(epoch, UTC).replace(microsecond=micros)
    local = moment.astimezone(timezone(delta))
    facts["date_time"] = {
        "year": local.strftime("%Y"), "month": local.strftime("%m"), "weekday": local.strftime("%A"),
        "weekday_number": local.strftime("%w"), "weeknumber": local.strftime("%W"),
        "day": local.strftime("%d"), "hour": local.strftime("%H"), "minute": local.strftime("%M"),
        "second": local.strftime("%S"), "epoch": str(epoch), "epoch_int": str(epoch),
        "date": local.strftime("%Y-%m-%d"), "time": local.strftime("%H:%M:%S"),
        "iso8601_micro": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "iso8601": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "iso8601_basic": local.strftime("%Y%m%dT%H%M%S%f"),
        "iso8601_basic_short": local.strftime("%Y%m%dT%H%M%S"),
        "tz": abbreviation, "tz_dst": _dst_name(lines[1].strip(), local.year, abbreviation),
        "tz_offset": offset,
    }


def _dst_name(zone: str, year: int, standard: str) -> str:
    """The zone's daylight-saving abbreviation (Python's ``time.tzname[1]``, what Ansible
    reports); the standard one for a zone without DST or that this machine does not know."""
    try:
        info = ZoneInfo(zone) if zone else None
    except (ZoneInfoNotFoundError, ValueError):
        info = None
    if info is None:
        return standard
    for month in (1, 7):
        moment = datetime(year, month, 1, tzinfo=info)
        if moment.dst():
            return moment.tzname() or standard
    return standard


def distribution_file(facts: dict[str, Any], os_release: dict[str, str]) -> None:
    """``distribution_file_path/variety/parsed``: the file ansible-core's distribution
    collector took the distribution from -- on the Debian family, os-release parsed as
    Debian's (Ubuntu's included)."""
    if os_release and facts.get("os_family") == "Debian":
        facts.update(distribution_file_path="/etc/os-release", distribution_file_variety="Debian",
                     distribution_file_parsed=True)


def apply_derived(facts: dict[str, Any], meminfo_kb: dict[str, int], passwd: str) -> None:
    """Facts computed from sections already read: memory_mb, the user's ids and GECOS,
    userspace_architecture/bits."""
    mb = {k: v // 1024 for k, v in meminfo_kb.items()}
    total, free = mb.get("MemTotal", 0), mb.get("MemFree", 0)
    nocache_free = free + mb.get("Buffers", 0) + mb.get("Cached", 0)
    swap_total, swap_free = mb.get("SwapTotal", 0), mb.get("SwapFree", 0)
    facts["memory_mb"] = {
        "real": {"total": total, "free": free, "used": total - free},
        "nocache": {"free": nocache_free, "used": total - nocache_free},
        "swap": {"total": swap_total, "free": swap_free, "used": swap_total - swap_free,
                 "cached": mb.get("SwapCached", 0)},
    }
    uid, gid = facts.get("user_uid"), facts.get("user_gid")
    if uid is not None:
        facts["real_user_id"] = facts["effective_user_id"] = uid
        facts["real_group_id"] = facts["effective_group_id"] = gid
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) >= 5 and fields[0] == facts.get("user_id"):
            facts["user_gecos"] = fields[4]
            break
    machine = facts.get("architecture", "")
    if machine:
        facts["userspace_architecture"] = machine
        facts["userspace_bits"] = "32" if machine in ("i386", "i686", "armv7l", "armv6l") else "64"
