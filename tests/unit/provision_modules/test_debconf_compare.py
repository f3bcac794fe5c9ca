"""debconf against ansible-core's own module, run here on the same arguments and answers.

ansible-core's module runs as a process with stand-in ``debconf-show``,
``debconf-get-selections`` and ``debconf-set-selections`` first on PATH (the first two answer
from the case, the third records its standard input); kprov's decision gets the same answers,
its password probe's hash computed from the case's selections as the host would. Both must
judge the same change, set the same line and (passwords aside, which kprov masks) report the
same ``current`` and ``previous``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.base import TaskView
from kprov.provision.modules.packages.debconf import MODULE, DebconfPlan

SHOWN = ("* pkg/kind: No configuration\n  pkg/auto: false\n  pkg/langs: en, nl\n"
         "  pkg/secret: (password omitted)\n")
SELECTIONS = ("pkg\tpkg/kind\tselect\tNo configuration\npkg\tpkg/auto\tboolean\tfalse\n"
              "pkg\tpkg/langs\tmultiselect\ten, nl\npkg\tpkg/secret\tpassword\ts3cret\n")

# (case, arguments)
CASES: list[tuple[str, dict[str, Any]]] = [
    ("select differs", {"name": "pkg", "question": "pkg/kind", "vtype": "select", "value": "Internet Site"}),
    ("select equal", {"name": "pkg", "question": "pkg/kind", "vtype": "select", "value": "No configuration"}),
    ("boolean equal, spelt False", {"name": "pkg", "question": "pkg/auto", "vtype": "boolean",
                                    "value": "False"}),
    ("boolean differs", {"name": "pkg", "question": "pkg/auto", "vtype": "boolean", "value": True}),
    ("multiselect list equal", {"name": "pkg", "question": "pkg/langs", "vtype": "multiselect",
                                "value": ["nl", "en"]}),
    ("multiselect string unsorted", {"name": "pkg", "question": "pkg/langs", "vtype": "multiselect",
                                     "value": "nl, en"}),
    ("unknown question", {"name": "pkg", "question": "pkg/new", "vtype": "string", "value": "x",
                          "unseen": True}),
    ("password equal", {"name": "pkg", "question": "pkg/secret", "vtype": "password", "value": "s3cret"}),
    ("password differs", {"name": "pkg", "question": "pkg/secret", "vtype": "password", "value": "other"}),
    ("no question: a read", {"name": "pkg"}),
]

_SHOW = '#!/bin/sh\ncat "$KPROV_DEBCONF/shown"\n'
_GET = '#!/bin/sh\ncat "$KPROV_DEBCONF/selections"\n'
_SET = '#!/bin/sh\necho "$*" > "$KPROV_DEBCONF/set-args"\ncat > "$KPROV_DEBCONF/set"\n'


def _ansible(args: dict[str, Any], tmp: Path) -> tuple[dict[str, Any], str | None]:
    pytest.importorskip("ansible.modules.debconf")
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for name, script in (("debconf-show", _SHOW), ("debconf-get-selections", _GET),
                         ("debconf-set-selections", _SET)):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    (tmp / "shown").write_text(SHOWN)
    (tmp / "selections").write_text(SELECTIONS)
    (tmp / "args.json").write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "KPROV_DEBCONF": str(tmp)}
    done = subprocess.run([sys.executable, "-m", "ansible.modules.debconf", str(tmp / "args.json")],
                          capture_output=True, text=True, env=env, cwd=tmp, check=False)
    sent = (tmp / "set").read_text() if (tmp / "set").exists() else None
    return dict(json.loads(done.stdout)), sent


def _host_hash(question: str) -> str:
    """What the password probe prints for SELECTIONS (awk's finding, hashed)."""
    for line in SELECTIONS.splitlines():
        fields = line.split("\t")
        if fields[1] == question and fields[2] == "password":
            return hashlib.sha256(f"VAL:{fields[3]}\n".encode()).hexdigest() + "  -\n"
    return hashlib.sha256(b"").hexdigest() + "  -\n"


@pytest.mark.parametrize("args", [pytest.param(c[1], id=c[0]) for c in CASES])
def test_kprov_judges_and_sets_as_ansible(args: dict[str, Any], tmp_path: Path) -> None:
    theirs, sent = _ansible(args, tmp_path)
    assert not theirs.get("failed"), theirs
    params = MODULE.params(args)
    probes = MODULE.probes(params, TaskView())
    outputs = [SHOWN, _host_hash(args.get("question", ""))][:len(probes)]
    observed = {cmd: CommandResult(0, out, "") for cmd, out in zip(probes, outputs, strict=True)}
    plan = MODULE.decide(params, observed)
    assert plan.changed == theirs["changed"]
    if plan.changed:
        assert isinstance(plan, DebconfPlan)
        assert plan.selection == sent
        assert plan.commands == [f"debconf-set-selections{' -u' if args.get('unseen') else ''}"]
        assert plan.data["previous"] == theirs["previous"]
    if args.get("vtype") == "password":
        assert "s3cret" not in json.dumps(plan.data) and "other" not in json.dumps(plan.data)
    else:
        assert plan.data["current"] == theirs["current"]
