"""A test harness: run a playbook's plays against FakeConnectors (no facts, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.connect.fake import FakeConnector
from kprov.provision.execute import RunObserver, RunOptions, RunReport
from kprov.provision.execute.runlog import LoggedConnector
from kprov.provision.phases import PlaysPhase
from kprov.provision.pipelines import open_run
from kprov.provision.playbook.loader import PlaybookLoader


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def run_fake(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    hosts: list[str],
    fakes: dict[str, FakeConnector] | None = None,
    observer: RunObserver | None = None,
    facts: dict[str, dict] | None = None,
    **options: object,
) -> tuple[RunReport, dict]:
    monkeypatch.setenv("KPROV_LOG_DIR", str(tmp_path / "logs"))
    files = {"hosts.yml": "all:\n  hosts:\n" + "".join(f"    {h}:\n" for h in hosts), **files}
    write_tree(tmp_path, files)
    run = open_run([str(tmp_path / "hosts.yml")], RunOptions(**options), observer, playbook_dir=tmp_path)  # type: ignore[arg-type]
    loader = PlaybookLoader(tmp_path, known_modules=None)
    playbook = loader.load(tmp_path / "site.yml")
    run.loader = loader
    fakes = fakes or {}
    for host in hosts:
        fake = fakes.setdefault(host, FakeConnector(host=host))
        run.hosts[host].connector = LoggedConnector(fake, run.log)
        run.report.add_host(host)
        run.hosts[host].facts = dict((facts or {}).get(host, {}))  # as if gathered on connect
    try:
        PlaysPhase(playbook).run(run)
    finally:
        run.log.close()
    return run.report, {h: s.runtime_vars for h, s in run.hosts.items()}


def statuses(report: RunReport, host: str) -> list[tuple[str, str]]:
    return [(r.task, r.status) for r in report.results if r.host == host]
