"""Role host_packages installs, ahead, exactly the packages the later plays of site.yml install
on a host: none that the host's roles never install, none left for a later play to install."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kprov.provision.templates import TemplateEngine

ROLES = Path(__file__).resolve().parents[3] / "roles"
# etcd-server starts Debian's own etcd on install: its role masks that unit first, so it keeps
# its install; the API VIP's HAProxy and keepalived only come with apiserver_vip (role
# host_packages' defaults say so).
LEFT_TO_THEIR_ROLE = {"etcd", "apiserver_lb", "keepalived"}


def _defaults(role: str) -> dict[str, Any]:
    path = ROLES / role / "defaults" / "main.yml"
    return dict(yaml.safe_load(path.read_text()) or {}) if path.is_file() else {}


def _apt_lists(role: str) -> list[str]:
    """The variables a role's apt tasks install (``name: "{{ var }}"``)."""
    tasks = yaml.safe_load((ROLES / role / "tasks" / "main.yml").read_text()) or []
    names = []
    for task in tasks:
        apt = task.get("ansible.builtin.apt") or task.get("apt")
        if isinstance(apt, dict) and apt.get("state", "present") == "present" and "name" in apt:
            match = re.fullmatch(r"\{\{\s*(\w+)\s*\}\}", str(apt["name"]))
            assert match, f"role {role}: an apt task's name is not one variable: {apt['name']}"
            names.append(match.group(1))
    return names


def _in_play(host: str, pattern: str, groups: dict[str, list[str]]) -> bool:
    return pattern == "all" or any(host in groups.get(g, []) for g in pattern.split(":"))


def _scope(host: str, groups: dict[str, list[str]], extra: dict[str, Any]) -> Any:
    facts = {**_defaults("kprov_defaults"), **_defaults("host_packages"),
             "groups": groups, "inventory_hostname": host, **extra}
    return TemplateEngine().scope([(facts, True)])


def _later_plays_packages(host: str, groups: dict[str, list[str]], extra: dict[str, Any]) -> set[str]:
    scope = _scope(host, groups, extra)
    wanted: set[str] = set()
    for play in yaml.safe_load((ROLES / "site.yml").read_text())[1:]:
        if not _in_play(host, play["hosts"], groups):
            continue
        for entry in play["roles"]:
            role = entry if isinstance(entry, str) else entry["role"]
            when = None if isinstance(entry, str) else entry.get("when")
            if role in LEFT_TO_THEIR_ROLE or (when and not scope.condition(when, "test")):
                continue
            for var in _apt_lists(role):
                wanted |= set(scope.template(f"{{{{ {var} }}}}", "test"))
    return wanted


GROUPS = {"etcd": ["h1", "h2", "h3", "h6"], "control_plane": ["h1", "h2", "h3"],
          "workers": ["h3", "h4", "h5"]}


@pytest.mark.parametrize("host", ["h1", "h3", "h4", "h6"])
@pytest.mark.parametrize("extra", [{}, {"ingress_enabled": False}])
def test_ahead_is_what_the_later_plays_install(host: str, extra: dict[str, Any]) -> None:
    ahead = set(_scope(host, GROUPS, extra).template("{{ host_packages_ahead }}", "test"))
    assert ahead == _later_plays_packages(host, GROUPS, extra)


def test_the_plays_install_something_on_every_kind_of_host() -> None:
    """The test above compares something: control-plane hosts get the registry, workers HAProxy,
    an etcd-only member nothing."""
    assert {"docker-registry", "containerd"} <= _later_plays_packages("h1", GROUPS, {})
    assert "haproxy" in _later_plays_packages("h4", GROUPS, {})
    assert "docker-registry" not in _later_plays_packages("h4", GROUPS, {})
    assert _later_plays_packages("h6", GROUPS, {}) == set()


def test_the_role_runs_in_the_first_play_before_the_runtime() -> None:
    first = yaml.safe_load((ROLES / "site.yml").read_text())[0]
    assert first["hosts"] == "all"
    assert first["roles"].index("host_packages") < first["roles"].index("kprov_runtime")
