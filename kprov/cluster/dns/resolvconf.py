"""resolv.conf(5) read and written: nameservers, search domains and options.

Used by the DNS server (its upstreams are the host's nameservers) and by the kubelet
(a pod's resolv.conf is built from the host's and the pod's dnsPolicy). Parsing follows
glibc: the last ``search``/``domain`` line wins, comments start with ``#`` or ``;``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ResolvConf", "parse_resolv_conf", "read_resolv_conf"]


@dataclass
class ResolvConf:
    nameservers: list[str] = field(default_factory=list)
    search: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [f"nameserver {ns}" for ns in self.nameservers]
        if self.search:
            lines.append("search " + " ".join(self.search))
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "\n".join(lines) + "\n"


def parse_resolv_conf(text: str) -> ResolvConf:
    conf = ResolvConf()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].split()
        if len(line) < 2:
            continue
        key, values = line[0], line[1:]
        if key == "nameserver":
            conf.nameservers.append(values[0])
        elif key in ("search", "domain"):
            conf.search = [v.rstrip(".") for v in values]
        elif key == "options":
            conf.options.extend(values)
    return conf


def read_resolv_conf(path: str | Path = "/etc/resolv.conf") -> ResolvConf:
    try:
        return parse_resolv_conf(Path(path).read_text())
    except OSError:
        return ResolvConf()
