"""Contexts for module tests: the real local connector (a temp dir on this machine) or a fake."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kprov.provision.connect.local import LocalConnector
from kprov.provision.modules import ModuleContext, ModuleResult, get_module


@pytest.fixture
def run_local(tmp_path: Path) -> Callable[..., ModuleResult]:
    """``run_local(module, args, check=False, diff=True)`` on this machine, files from tmp_path."""
    connector = LocalConnector()

    def find_file(name: str, kind: str) -> Path:
        path = tmp_path / kind / name
        if not path.exists():
            raise FileNotFoundError(name)
        return path

    def run(module: str, args: dict[str, Any], *, check: bool = False, diff: bool = True,
            render: Callable[[str], str] = str) -> ModuleResult:
        ctx = ModuleContext(connector=connector, check_mode=check, diff=diff,
                            render_template=lambda text, settings: render(text),
                            find_file=find_file)
        return get_module(module).run(ctx, args)

    return run
