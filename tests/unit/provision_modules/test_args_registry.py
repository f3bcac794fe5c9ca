"""Argument specs (aliases, types, errors that name module and argument) and the registry."""

from __future__ import annotations

import pytest

from kprov.provision.connect.fake import FakeConnector
from kprov.provision.modules import (
    ModuleArgsError,
    ModuleContext,
    UnknownModuleError,
    get_module,
    known_module_names,
)
from kprov.provision.modules.args import Arg, parse_args
from kprov.provision.modules.files.fileops import resolve_mode

SPEC = {"path": Arg(required=True, aliases=("dest", "name")), "force": Arg("bool", default=False),
        "state": Arg(default="present", choices=("present", "absent")), "mode": Arg("mode")}


def test_aliases_defaults_and_bools() -> None:
    args = parse_args("demo", SPEC, {"dest": "/x", "force": "yes"})
    assert args == {"path": "/x", "force": True, "state": "present", "mode": None}


@pytest.mark.parametrize("args,needle", [
    ({}, "missing required argument 'path"),
    ({"path": "/x", "bogus": 1}, "unsupported argument 'bogus'"),
    ({"path": "/x", "state": "gone"}, "argument 'state': 'gone' is not one of"),
    ({"path": "/x", "force": "perhaps"}, "argument 'force'"),
])
def test_errors_name_module_and_argument(args: dict, needle: str) -> None:
    with pytest.raises(ModuleArgsError, match="^demo: ") as caught:
        parse_args("demo", SPEC, args)
    assert needle in str(caught.value)


def test_modes() -> None:
    assert resolve_mode("0644", None) == 0o644
    assert resolve_mode("644", None) == 0o644
    assert resolve_mode(0o600, None) == 0o600
    assert resolve_mode("u+x,g-r", 0o644) == 0o704
    assert resolve_mode("a=r", 0o777) == 0o444
    assert resolve_mode("u=rwx,go=rX", 0o600, is_dir=True) == 0o755


def test_registry_short_and_qualified_names() -> None:
    names = known_module_names()
    for name in ("copy", "ansible.builtin.copy", "ansible.posix.sysctl", "community.general.modprobe",
                 "ansible.builtin.systemd_service", "ansible.builtin.systemd", "service", "package"):
        assert name in names
        assert get_module(name).run  # importable
    assert get_module("ansible.builtin.systemd").name == get_module("service").name == "systemd_service"
    with pytest.raises(UnknownModuleError):
        get_module("ansible.builtin.debugx")


def test_bad_arguments_become_a_failed_result() -> None:
    result = get_module("copy").run(ModuleContext(connector=FakeConnector()), {"dest": "/x", "nope": 1})
    assert result.failed and "copy" in result.msg and "'nope'" in result.msg
