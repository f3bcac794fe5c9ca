"""community.general.locale_gen: generated locales, the glibc way (Debian's /etc/locale.gen).

Three steps (modules.contract). One probe reads /usr/share/i18n/SUPPORTED, /etc/locale.gen
and ``locale -a``. A name must be listed as supported (or already generated), else the task
fails with the collection's message; the locales are present when ``locale -a`` lists every
name (its ``.utf8``-style spellings compared in the collection's normalized case). To change
that, the plan uncomments (or comments, for ``absent``) each name's lines in /etc/locale.gen
and runs ``locale-gen``. As the collection does, check mode reports no change (its change
tracking re-reads ``locale -a``, which nothing altered). Ubuntu's legacy
/var/lib/locales/supported.d mechanism is refused as unsupported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import Arg
from kprov.provision.modules.base import ModuleContext, ModuleResult, TaskView
from kprov.provision.modules.contract import Plan, ThreeStepModule

__all__ = ["MODULE", "LocaleGenModule", "normalized", "toggle_locales"]

LOCALE_GEN = "/etc/locale.gen"
SUPPORTED = "/usr/share/i18n/SUPPORTED"
_SPELLINGS = {
    ".utf8": ".UTF-8",
    ".eucjp": ".EUC-JP",
    ".iso885915": ".ISO-8859-15",
    ".cp1251": ".CP1251",
    ".koi8r": ".KOI8-R",
    ".armscii8": ".ARMSCII-8",
    ".euckr": ".EUC-KR",
    ".gbk": ".GBK",
    ".gb18030": ".GB18030",
    ".euctw": ".EUC-TW",
}
_SUPPORTED_LINE = re.compile(r"^\s*#?\s*(\S+[._\S]+) (\S+)\s*$")
_SECTIONS = ("SUPPORTED", "GEN", "LEGACY", "LOCALES")


def normalized(name: str) -> str:
    for spelling, canonical in _SPELLINGS.items():
        name = name.replace(spelling, canonical)
    return name


def toggle_locales(text: str, names: list[str], enabled: bool) -> str:
    """/etc/locale.gen with each name's line(s) uncommented (enabled) or commented."""
    lines = text.splitlines(keepends=True)
    for name in names:
        pattern = re.compile(rf"^#?\s*{re.escape(name)} (?P<charset>.+)")
        replacement = rf"{name} \g<charset>" if enabled else rf"# {name} \g<charset>"
        lines = [pattern.sub(replacement, line) for line in lines]
    return "".join(lines)


def _sections(stdout: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {name: [] for name in _SECTIONS}
    current = ""
    for line in stdout.splitlines(keepends=True):
        marker = line.strip()
        if marker.startswith("--kprov-") and marker[8:] in found:
            current = marker[8:]
        elif current:
            found[current].append(line)
    return found


class LocaleGenModule(ThreeStepModule):
    name = "locale_gen"
    spec = {
        "name": Arg("list", required=True),
        "state": Arg(default="present", choices=("absent", "present")),
    }

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        return [
            f"echo --kprov-SUPPORTED; cat {SUPPORTED} 2>/dev/null; echo --kprov-GEN; "
            f"cat {LOCALE_GEN} 2>/dev/null || echo '!missing'; echo --kprov-LEGACY; "
            "test -d /var/lib/locales/supported.d && echo yes; echo --kprov-LOCALES; locale -a"
        ]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult]) -> Plan:
        (probe,) = observed.values()
        names = [str(n) for n in params["name"]]
        data: dict[str, Any] = {"name": names}
        found = _sections(probe.stdout)
        if found["GEN"] == ["!missing\n"]:
            if found["LEGACY"]:
                return Plan(
                    failed="locale_gen: the ubuntu_legacy mechanism is not supported by kprov", data=data
                )
            return Plan(
                failed="/var/lib/locales/supported.d and /etc/locale.gen are missing. "
                'Is the package "locales" installed?',
                data=data,
            )
        generated = {normalized(line.strip()) for line in found["LOCALES"]}
        supported = {m.group(1) for m in map(_SUPPORTED_LINE.match, found["SUPPORTED"]) if m}
        unknown = [n for n in names if n not in supported and normalized(n) not in generated]
        if unknown:
            return Plan(
                failed="The following locales you have entered are not available on your "
                f"system: {', '.join(unknown)}",
                data=data,
            )
        present = all(normalized(n) in generated for n in names)
        if present == (params["state"] == "present"):
            return Plan(data=data)
        text = "".join(found["GEN"])
        return Plan(
            changed=True,
            data=data,
            files={LOCALE_GEN: toggle_locales(text, names, not present)},
            commands=["locale-gen"],
        )

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        result = super().run(ctx, args)
        if ctx.check_mode:  # the collection's change tracking: nothing applied, nothing changed
            result.changed = False
        return result


MODULE = LocaleGenModule()
