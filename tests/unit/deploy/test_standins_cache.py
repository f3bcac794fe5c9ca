"""The prepare phase's stand-ins archive is cached per names and per content of the files the
images are made of: a rebuilt /bin/sh must not be served from the old archive."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.deploy import prepare


def test_a_changed_input_file_builds_a_new_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[Path] = []

    def fake_build(out: Path) -> dict[str, str]:
        built.append(out)
        out.write_bytes(b"archive")
        return {}

    monkeypatch.setattr(prepare, "build_standins", fake_build)
    shell = tmp_path / "busybox-ash"
    shell.write_bytes(b"old shell")
    cache = tmp_path / "cache"
    first = prepare.standins_archive(cache, inputs=(shell,))
    assert prepare.standins_archive(cache, inputs=(shell,)) == first and len(built) == 1
    shell.write_bytes(b"new shell")
    second = prepare.standins_archive(cache, inputs=(shell,))
    assert second != first and second.is_file() and len(built) == 2
