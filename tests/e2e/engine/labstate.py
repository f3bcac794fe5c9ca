"""Helpers for the engine's lab tests and benchmark: reset the sample role set's footprint on a
host, and a digest of that footprint (files, modes, owners, contents, service, user, sysctl);
``Apply``, the type of conftest's ``kprov_apply`` fixture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kprov.lab import Lab

REPO = Path(__file__).resolve().parents[3]
SITE = Path(__file__).parent / "site.yml"
Apply = Callable[..., tuple[int, dict[str, Any]]]  # (inventory, playbook, *options) -> (rc, --json doc)

RESET = (
    "systemctl disable --now kpsample-web >/dev/null 2>&1; "
    "rm -rf /etc/kprov-sample /etc/systemd/system/kpsample-web.service /etc/sysctl.d/90-kprov-sample.conf; "
    "userdel kpsample >/dev/null 2>&1; groupdel kpsample >/dev/null 2>&1; systemctl daemon-reload; true"
)
DIGEST = (
    "find /etc/kprov-sample -printf '%p %y %m %u %g %l\\n' | sort; "
    "find /etc/kprov-sample -type f -exec sha256sum {} + | sort; "
    "sha256sum /etc/systemd/system/kpsample-web.service /etc/sysctl.d/90-kprov-sample.conf; "
    "systemctl is-enabled kpsample-web; systemctl is-active kpsample-web; "
    "getent passwd kpsample; getent group kpsample; sysctl -n net.ipv4.ip_forward"
)


def reset(lab: Lab, hosts: list[str]) -> None:
    for host in hosts:
        rc, _, err = lab.ssh(host, RESET)
        assert rc == 0, err


def digest(lab: Lab, hosts: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for host in hosts:
        _, stdout, _ = lab.ssh(host, DIGEST)
        out[host] = stdout
    return out
