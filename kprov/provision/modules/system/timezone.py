"""community.general.timezone: the system time zone (and, where asked, the hardware clock mode).

Three steps (modules.contract): one probe reads the zone systemd reports (``timedatectl``, or
the /etc/localtime link without it) and whether the zone file exists; the plan sets it with
``timedatectl set-timezone`` (or relinks /etc/localtime and writes /etc/timezone, as Debian
does without systemd). ``hwclock`` (UTC/local) goes through ``timedatectl set-local-rtc``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule

__all__ = ["MODULE", "TimezoneModule"]


class TimezoneModule(ThreeStepModule):
    name = "timezone"
    spec = {"name": Arg(), "hwclock": Arg(choices=("local", "UTC", "utc"))}

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        zone = shlex.quote(params["name"] or "UTC")
        return [
            "command -v timedatectl >/dev/null && echo SYSTEMD:1; "
            "echo ZONE:$(timedatectl show -p Timezone --value 2>/dev/null || "
            "readlink /etc/localtime | sed 's|.*/zoneinfo/||'); "
            "echo RTC:$(timedatectl show -p LocalRTC --value 2>/dev/null); "
            f"[ -f /usr/share/zoneinfo/{zone} ] && echo EXISTS:1; true"
        ]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        (probe,) = observed.values()
        fields = dict(line.partition(":")[::2] for line in probe.stdout.splitlines() if ":" in line)
        systemd = "SYSTEMD" in fields
        before: dict[str, Any] = {"name": fields.get("ZONE", "").strip()}
        after = dict(before)
        commands: list[str] = []
        name = params["name"]
        if name is not None:
            if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", name) or "EXISTS" not in fields:
                return Plan(failed=f"given timezone \"{name}\" is not available")
            after["name"] = name
            if before["name"] != name:
                quoted = shlex.quote(name)
                commands.append(
                    f"timedatectl set-timezone {quoted}" if systemd else
                    f"ln -sf /usr/share/zoneinfo/{quoted} /etc/localtime && echo {quoted} > /etc/timezone"
                )
        if params["hwclock"] is not None:
            local = params["hwclock"] == "local"
            before["hwclock"] = "local" if fields.get("RTC", "").strip() == "yes" else "UTC"
            after["hwclock"] = "local" if local else "UTC"
            if before["hwclock"] != after["hwclock"]:
                commands.append(f"timedatectl set-local-rtc {'1' if local else '0'}")
        return Plan(changed=bool(commands), commands=commands,
                    diff=[{"before": before, "after": after}] if commands else [])


MODULE = TimezoneModule()
