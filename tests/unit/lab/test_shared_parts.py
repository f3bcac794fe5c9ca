"""The lab's shared parts made ahead (kprov.lab.shared_parts): what `.ci/setup` runs beside pip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kprov.lab import shared_parts
from kprov.lab.base import BASE_READY_MARK
from kprov.lab.bundle import STAMP_NAME, bundle_stamp
from kprov.lab.errors import LabError
from kprov.lab.layout import LabLayout

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("containerd", "runc")


def test_the_module_runs_with_the_standard_library_alone() -> None:
    # setup starts it before the virtualenv exists: -S leaves every site-packages out
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    done = subprocess.run([sys.executable, "-S", "-c", "import kprov.lab.shared_parts"], cwd=REPO, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _current_repo(layout: LabLayout) -> None:
    layout.repo_dir.mkdir(parents=True)
    (layout.repo_dir / "Packages").write_text("")
    (layout.repo_dir / STAMP_NAME).write_text(bundle_stamp(PACKAGES) + "\n")


def _record_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def build_base(base: Path) -> bool:
        calls.append(f"base {base.name}")
        return True

    def fill_bundle(repo: Path, base: Path, packages: tuple[str, ...]) -> bool:
        calls.append(f"repo {repo.name} {','.join(packages)}")
        return True

    monkeypatch.setattr(shared_parts, "build_base", build_base)
    monkeypatch.setattr(shared_parts, "fill_bundle", fill_bundle)
    return calls


def test_current_parts_are_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = LabLayout(0, tmp_path)
    layout.base.mkdir()
    (layout.base / BASE_READY_MARK).write_text("ok\n")
    _current_repo(layout)
    calls = _record_builds(monkeypatch)
    assert shared_parts.build_shared_parts(layout, PACKAGES, progress=calls.append) == []
    assert calls == []


def test_only_what_is_missing_is_built_base_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = LabLayout(0, tmp_path)
    calls = _record_builds(monkeypatch)
    built = shared_parts.build_shared_parts(layout, PACKAGES, progress=calls.append)
    assert built == ["base image", "package repository"]
    assert calls[0] == "base base" and calls[2] == "repo repo containerd,runc"  # each followed by its report
    assert calls[1].startswith("lab base image built in ")

    _current_repo(layout)
    calls.clear()
    assert shared_parts.build_shared_parts(layout, PACKAGES, progress=calls.append) == ["base image"]
    assert [c for c in calls if not c.startswith("lab ")] == ["base base"]


def test_a_full_disk_is_refused_before_anything_is_built(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    layout = LabLayout(0, tmp_path)
    calls = _record_builds(monkeypatch)

    class Full:
        f_bavail, f_frsize = 10, 4096

    monkeypatch.setattr(os, "statvfs", lambda path: Full())
    with pytest.raises(LabError, match=r"MiB needed, 0 MiB free"):
        shared_parts.build_shared_parts(layout, PACKAGES, progress=calls.append)
    assert calls == []
