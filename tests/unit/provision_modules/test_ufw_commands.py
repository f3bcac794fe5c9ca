"""ufw's commands and verdicts against community.general's own module, run here on the same
arguments and the same ufw answers.

The collection's module runs as a process with a stand-in ``ufw`` first on PATH (it answers
``status verbose``, ``--version`` and ``--dry-run`` from the case and records nothing else);
kprov's module runs with the same answers through a fake connector. Both must report the
same ``changed`` and send the same ``commands``, word for word.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kprov.provision.connect.fake import FakeConnector
from kprov.provision.modules.base import ModuleContext, ModuleFailed
from kprov.provision.modules.registry import guarded
from kprov.provision.modules.system.ufw import MODULE

ACTIVE = ("Status: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), disabled (routed)\n"
          "New profiles: skip\n\nTo                         Action      From\n"
          "--                         ------      ----\n22/tcp on eth0             ALLOW IN    Anywhere\n\n")
TUPLE = "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in_eth0\n"
DRY_NEW = "*filter\n" + TUPLE + "### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in\nCOMMIT\n"

# (case, arguments, check mode, status, dry-run output)
CASES: list[tuple[str, dict[str, Any], bool, str, str]] = [
    ("enable, active", {"state": "enabled"}, True, ACTIVE, ""),
    ("disable, active", {"state": "disabled"}, True, ACTIVE, ""),
    ("enable, inactive", {"state": "enabled"}, True, "Status: inactive\n", ""),
    ("reload", {"state": "reloaded"}, True, ACTIVE, ""),
    ("policy in place", {"policy": "deny", "direction": "incoming"}, True, ACTIVE, ""),
    ("policy outgoing differs", {"default": "deny", "direction": "outgoing"}, True, ACTIVE, ""),
    ("routed disabled counts as set", {"default": "allow", "direction": "routed"}, True, ACTIVE, ""),
    ("logging level differs", {"logging": "high"}, True, ACTIVE, ""),
    ("logging on while on", {"logging": "on"}, True, ACTIVE, ""),
    ("rule exists (dry run skips)",
     {"rule": "allow", "interface": "eth0", "direction": "in", "to_port": "22", "proto": "tcp"},
     True, ACTIVE, "Skipping adding existing rule\n"),
    ("rule new (dry run tuples differ)", {"rule": "allow", "port": "80", "proto": "tcp", "comment": "web"},
     True, ACTIVE, DRY_NEW),
    ("rule from an IPv4 source", {"rule": "deny", "from_ip": "10.0.0.0/8", "to_port": "22", "proto": "tcp"},
     True, ACTIVE, "*filter\n" + TUPLE + "COMMIT\n"),
    ("route rule between interfaces", {"rule": "allow", "route": True, "interface_in": "eth0",
                                       "interface_out": "eth1", "log": True}, True, ACTIVE, DRY_NEW),
    ("delete an app rule", {"rule": "allow", "name": "OpenSSH", "delete": True}, True, ACTIVE, DRY_NEW),
    ("insert at 2, limit", {"rule": "limit", "insert": 2, "to_port": "2222", "proto": "tcp"}, True, ACTIVE,
     DRY_NEW),
    ("everything, acting (nothing differs after)", {"state": "enabled", "policy": "deny", "rule": "allow",
                                                    "to_port": "22", "proto": "tcp"},
     False, ACTIVE, "Skipping adding existing rule\n"),
    ("a policy with a rule's direction fails alike", {"policy": "deny", "rule": "allow", "direction": "in"},
     False, ACTIVE, ""),
    ("a rule with a policy's direction fails alike", {"rule": "allow", "direction": "incoming"},
     True, ACTIVE, ""),
]

RULE_FILES = ("/lib/ufw/user.rules", "/lib/ufw/user6.rules", "/etc/ufw/user.rules", "/etc/ufw/user6.rules",
              "/var/lib/ufw/user.rules", "/var/lib/ufw/user6.rules")
_STAND_IN = """#!/bin/sh
case "$*" in
  "status verbose") cat "$KPROV_UFW/status" ;;
  "--version") echo "ufw 0.36.2"; echo "Copyright 2008-2023 Canonical Ltd." ;;
  *) cat "$KPROV_UFW/dry" ;;
esac
"""


def _collection(args: dict[str, Any], check: bool, status: str, dry: str, tmp: Path) -> dict[str, Any]:
    pytest.importorskip("ansible_collections.community.general.plugins.modules.ufw")
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    (bin_dir / "ufw").write_text(_STAND_IN)
    (bin_dir / "ufw").chmod(0o755)
    (tmp / "status").write_text(status)
    (tmp / "dry").write_text(dry)
    module_args = {**args, "_ansible_check_mode": check}
    (tmp / "args.json").write_text(json.dumps({"ANSIBLE_MODULE_ARGS": module_args}))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "KPROV_UFW": str(tmp)}
    done = subprocess.run(
        [sys.executable, "-m", "ansible_collections.community.general.plugins.modules.ufw",
         str(tmp / "args.json")],
        capture_output=True, text=True, env=env, cwd=tmp, check=False)
    return dict(json.loads(done.stdout))


def _kprov(args: dict[str, Any], check: bool, status: str, dry: str, ufw: str, grep: str) -> dict[str, Any]:
    ctx = ModuleContext(connector=FakeConnector(), check_mode=check)
    try:
        (probe,) = MODULE.probes(MODULE.params(args), ctx.view())
    except ModuleFailed as refused:  # the engine's guard makes this the task's failure
        return {"changed": False, "failed": True, "msg": refused.msg}
    connector = FakeConnector()
    connector.on(r"^" + re.escape(probe) + "$",
                 stdout=f"--kprov-UFW\n{ufw}\n\n--kprov-GREP\n{grep}\n\n--kprov-STATUS\n{status}\n--kprov-RC\n0"
                        "\n--kprov-RULES\n\n--kprov-VERSION\nufw 0.36.2\n")
    connector.on(r"status verbose$", stdout=status)
    connector.on(r"grep -h", stdout="")
    connector.on(r"^LANG=C ", stdout=dry)
    ctx.connector = connector
    result = guarded(lambda: MODULE.run(ctx, args))
    return {"changed": result.changed, "failed": result.failed, "msg": result.msg, **result.data}


@pytest.mark.parametrize(("args", "check", "status", "dry"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_kprov_sends_and_judges_as_the_collection(args: dict[str, Any], check: bool, status: str, dry: str,
                                                 tmp_path: Path) -> None:
    if any(Path(path).exists() for path in RULE_FILES):
        pytest.skip("this machine has ufw rules: the collection would read them")
    theirs = _collection(args, check, status, dry, tmp_path)
    ufw = str(tmp_path / "bin" / "ufw")
    grep = shutil.which("grep") or "grep"
    ours = _kprov(args, check, status, dry, ufw, grep)
    if theirs.get("failed"):
        assert (ours["failed"], ours["msg"]) == (True, theirs["msg"])
        return
    assert not ours["failed"], ours
    assert ours["commands"] == theirs["commands"]
    assert ours["changed"] == theirs["changed"]
