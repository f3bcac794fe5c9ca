"""Controller files a run asks for again and again (every host, every loop item): found once
(TaskRunner.find_file, RunContext.found_files) and hashed once (RunContext.file_digest)."""

from __future__ import annotations

from pathlib import Path

import pytest

import kprov.provision.execute.context as context
from kprov.provision.connect.local import LocalConnector
from kprov.provision.modules import ModuleContext, get_module

from .harness import run_fake, statuses

SITE = """
- hosts: all
  gather_facts: false
  roles: [r]
"""
TASKS = """
- name: copies
  copy: {src: src.conf, dest: "{{ out }}/{{ inventory_hostname }}-{{ item }}", mode: "0644"}
  loop: [a, b]
"""


def test_a_copy_source_is_found_and_hashed_once_per_run(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    files = {"site.yml": SITE, "roles/r/tasks/main.yml": TASKS, "roles/r/files/src.conf": "x=1\n",
             "roles/r/defaults/main.yml": f"out: {out}\n"}
    hashed: list[Path] = []
    looked: list[Path] = []
    digest, exists = context.file_digest, Path.exists

    def counting_digest(path: Path) -> tuple[str, int]:
        hashed.append(path)
        return digest(path)

    def counting_exists(self: Path, **kw: bool) -> bool:
        if self.name == "src.conf":
            looked.append(self)
        return exists(self, **kw)

    monkeypatch.setattr(context, "file_digest", counting_digest)
    monkeypatch.setattr(Path, "exists", counting_exists)
    hosts = ["h1", "h2"]
    for status in ("changed", "ok"):
        hashed.clear()
        looked.clear()
        report, _ = run_fake(tmp_path, monkeypatch, files, hosts, {h: LocalConnector(h) for h in hosts})  # type: ignore[misc]
        assert [statuses(report, h) for h in hosts] == [[("r : copies", status)]] * 2
        # 2 hosts x 2 items (+ their look-ahead): one hash; one search (two when both hosts'
        # threads miss the cache at the same moment, harmlessly: they find the same file)
        assert len(hashed) == 1 and 1 <= len(looked) <= len(hosts)
    assert sorted(p.name for p in out.iterdir()) == ["h1-a", "h1-b", "h2-a", "h2-b"]
    assert {p.read_text() for p in out.iterdir()} == {"x=1\n"}


def test_a_copy_whose_destination_is_right_does_not_read_its_source(tmp_path: Path) -> None:
    src, dest = tmp_path / "src", tmp_path / "dest"
    src.write_text("new\n")
    dest.write_text("old\n")
    dest.chmod(0o644)
    known = ModuleContext(connector=LocalConnector("h"), file_digest=lambda path: context.file_digest(dest))
    # the run's digest says src holds what dest holds: nothing is read, nothing changes
    result = get_module("copy").run(known, {"src": str(src), "dest": str(dest), "mode": "0644"})
    assert not result.changed and not result.failed, result.msg
    assert dest.read_text() == "old\n"
    fresh = ModuleContext(connector=LocalConnector("h"))
    assert get_module("copy").run(fresh, {"src": str(src), "dest": str(dest)}).changed
    assert dest.read_text() == "new\n"
