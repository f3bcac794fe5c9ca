"""Every handler of kprov's roles shows in `kprov plan` when it would run: check mode skips a
command or shell task (Ansible's "Command would have run if not in check mode"), so a plan
after a runtime switch listed no DNS or metrics-server restart (both restart with a shell,
rolling with a health wait). A command handler that changes something must preview itself
(``check_mode: false`` and a branch on ``ansible_check_mode`` that only echoes what it
would do); a pure wait (``changed_when: false``) changes nothing to list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

ROLES = Path(__file__).parents[3] / "roles"
COMMANDS = ("command", "shell", "script", "raw")


def _handlers() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(ROLES.glob("*/handlers/main.yml")):
        for handler in yaml.safe_load(path.read_text()) or []:
            found.append((f"{path.parent.parent.name}: {handler['name']}", handler))
    return found


def _command(handler: dict[str, Any]) -> tuple[str, str] | None:
    for key, value in handler.items():
        if key.rsplit(".", 1)[-1] in COMMANDS:
            return key.rsplit(".", 1)[-1], value if isinstance(value, str) else str(value.get("cmd", ""))
    return None


def _render(text: str, check_mode: bool) -> str:
    env = jinja2.Environment(undefined=jinja2.ChainableUndefined, trim_blocks=True)
    return env.from_string(text).render(ansible_check_mode=check_mode, etcd_restart_script="/x/restart")


COMMAND_HANDLERS = [(name, h) for name, h in _handlers() if _command(h) is not None]


def test_the_roles_have_command_handlers_that_change_something() -> None:
    changing = [name for name, h in COMMAND_HANDLERS if h.get("changed_when") is not False]
    assert {"cluster_dns: restart kprov-dns", "metrics_server: restart kprov-metrics-server",
            "etcd: Restart etcd one member at a time"} <= set(changing)


@pytest.mark.parametrize(("name", "handler"), COMMAND_HANDLERS, ids=[n for n, _ in COMMAND_HANDLERS])
def test_a_command_handler_previews_itself_in_check_mode(name: str, handler: dict[str, Any]) -> None:
    if handler.get("changed_when") is False:
        return  # a wait: nothing to list
    found = _command(handler)
    assert found is not None
    module, text = found
    assert handler.get("check_mode") is False and "ansible_check_mode" in text, (
        f"{name}: a {module} handler is skipped in check mode; `kprov plan` would not list it")
    preview = [line for line in _render(text, True).splitlines() if line.strip()]
    assert preview and preview[0].strip().startswith("echo ") and "WOULD" in preview[0], preview
    if module == "shell":  # nothing of the real script runs after the preview
        assert preview[0].rstrip().endswith("exit 0"), preview
    assert "WOULD" not in _render(text, False)
