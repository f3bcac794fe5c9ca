"""The entry point mounts every command for --help, and only what a command needs otherwise."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kprov.cli.main import _COMMANDS, _SUB_APPS


def _kprov(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kprov.cli.main", *args], capture_output=True, text=True,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}, timeout=120)


def test_help_lists_every_command() -> None:
    out = _kprov("--help").stdout
    words = list(_SUB_APPS) + [w for ws in _COMMANDS.values() for w in ws]
    missing = [w for w in words if f" {w} " not in out]
    assert not missing, out


@pytest.mark.parametrize("word", ["apply", "lab"])
def test_a_command_runs_with_only_its_module(word: str) -> None:
    code = (f"import sys; sys.argv=['kprov', {word!r}, '--help']\n"
            "import kprov.cli.main as m\n"
            "try:\n    m.main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(k for k in sys.modules if k.startswith('kprov.cli.') and k != 'kprov.cli.main'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded = proc.stdout.strip().splitlines()[-1]
    owners = {w: m for m, ws in _COMMANDS.items() for w in ws} | {w: m for w, (m, _) in _SUB_APPS.items()}
    owner = owners[word]
    assert owner in loaded
    assert "kprov.cli.lab" not in loaded or word == "lab"


def test_prepare_names_a_missing_inventory(tmp_path) -> None:
    missing = tmp_path / "nowhere.yml"
    proc = _kprov("prepare", "-i", str(missing))
    assert proc.returncode == 1
    assert "kprov prepare:" in proc.stderr and str(missing) in proc.stderr
