"""The engine coverage table (docs/ENGINE_COVERAGE.md), generated from the code.

What kprov has is read from kprov itself: the module registry and each module's argument
spec (the dicts of ``Arg`` a module file or its class holds), the engine's own actions, the
task keywords the task parser accepts, the filters and tests of the engine's Jinja2
environment and the lookup table. What Ansible has is read from the ansible-core installed
beside it (``ansible-doc`` for module options and the ``ansible.builtin`` filters, tests
and lookups; the ``Task`` class for keywords), so the table says, per name: ``supported``,
``partly`` (a module without some of Ansible's options: they are named), ``protocol`` (a
module kprov does not build in, run through Ansible's module protocol), ``ansible-core``
(a filter, test or lookup kprov lacks, ansible-core's own run in kprov's process) or ``no``.

Run: ``.venv/bin/python tests/engine_coverage.py`` (writes the page); ``--check`` exits 1
when the page in the tree differs from what the code gives now.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import ansible.release
from ansible.playbook.task import Task

from kprov.provision.execute.engine_actions.async_jobs import ASYNC_STATUS_NAMES
from kprov.provision.lookups import LOOKUPS
from kprov.provision.modules.args import Arg
from kprov.provision.modules.protocol.locate import Locator, collection_roots
from kprov.provision.modules.registry import _TABLE
from kprov.provision.playbook.ansible_names import _ROUTED_COMMON, ANSIBLE_CORE_MODULES
from kprov.provision.playbook.tasks import ENGINE_ACTIONS, TASK_KEYWORDS
from kprov.provision.templates import TemplateEngine

__all__ = ["PAGE", "page_version", "render_page"]

PAGE = Path(__file__).resolve().parents[1] / "docs" / "ENGINE_COVERAGE.md"
ANSIBLE_DOC = Path(sys.executable).parent / "ansible-doc"
# Task fields of ansible-core's Task class that are not keywords a task is written with.
_INTERNAL_FIELDS = frozenset({"action", "args", "async_val", "loop_with"})


def _ansible_doc(*args: str) -> dict[str, Any]:
    done = subprocess.run([str(ANSIBLE_DOC), *args, "--json"], capture_output=True, text=True, check=True,
                          stdin=subprocess.DEVNULL)
    return dict(json.loads(done.stdout))


def _declared_options(impl: str) -> set[str] | None:
    """The names (aliases too) a kprov module's argument specs accept; None: it declares none."""
    module = importlib.import_module(f"kprov.provision.modules.{impl}")
    holders: list[Any] = [vars(module)]
    implementation = getattr(module, "MODULE", None)
    if implementation is not None:
        holders += [vars(cls) for cls in type(implementation).__mro__]
    names: set[str] = set()
    for holder in holders:
        for value in list(holder.values()):
            if isinstance(value, dict) and value and all(isinstance(v, Arg) for v in value.values()):
                for name, arg in value.items():
                    names |= {name, *arg.aliases}
    return names or None


def _module_rows(docs: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for short, (impl, collections) in sorted(_TABLE.items()):
        fqcn = f"{collections[0]}.{short}"
        declared = _declared_options(impl)
        options = (docs.get(fqcn) or {}).get("doc", {}).get("options") or {}
        if declared is None:
            rows.append((fqcn, "supported", "options not declared: not compared"))
            continue
        missing = sorted(name for name, option in options.items()
                         if not ({name, *(option.get("aliases") or [])} & declared))
        if missing:
            rows.append((fqcn, "partly", "without: " + ", ".join(missing)))
        else:
            rows.append((fqcn, "supported", ""))
    actions = ENGINE_ACTIONS | {name for name in ASYNC_STATUS_NAMES if "." not in name}
    for name in sorted(actions):
        rows.append((f"ansible.builtin.{name}", "supported", "engine action"))
    implemented = set(_TABLE) | actions
    locator = Locator([], collection_roots(None))
    for name in sorted((ANSIBLE_CORE_MODULES | _ROUTED_COMMON) - implemented):
        found = locator.find(name)
        if found is not None and not found.action_plugin:
            rows.append((name, "protocol", "runs through Ansible's module protocol (kprov[ansible])"))
        else:
            rows.append((name, "no", "loads (a task behind a false `when` is fine); fails if it runs"))
    return rows


def _keyword_rows() -> list[tuple[str, str, str]]:
    rows = []
    for name in sorted(set(Task.fattributes) - _INTERNAL_FIELDS):
        rows.append((name, "supported" if name in TASK_KEYWORDS else "no", ""))
    rows.append(("with_<lookup>", "supported", "with_items, with_list, with_dict and the lookups below"))
    return rows


def _plugin_rows(ansible_names: dict[str, Any], ours: set[str], kind: str) -> list[tuple[str, str, str]]:
    rows = []
    builtin = {name.removeprefix("ansible.builtin.") for name in ansible_names}
    for name in sorted(builtin):
        if name in ours:
            rows.append((name, "supported", ""))
        else:  # a name kprov lacks is ansible-core's own plugin (collection_plugins)
            rows.append((name, "ansible-core", "ansible-core's own, run in kprov's process (kprov[ansible])"))
    for name in sorted(ours - builtin):
        if "." in name or kind != "lookup":
            rows.append((name, "supported", f"not an ansible.builtin {kind}"))
    return rows


def _table(title: str, rows: list[tuple[str, str, str]], head: str) -> str:
    statuses = ("supported", "partly", "protocol", "ansible-core", "no")
    counts = {status: sum(1 for r in rows if r[1] == status) for status in statuses}
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    lines = [f"## {title}", "", f"{summary}.", "", f"| {head} | kprov | notes |", "|---|---|---|"]
    lines += [f"| `{name}` | {status} | {note} |" for name, status, note in rows]
    return "\n".join(lines) + "\n"


def render_page() -> str:
    modules = sorted({f"{collections[0]}.{short}" for short, (_, collections) in _TABLE.items()})
    with ThreadPoolExecutor(4) as pool:
        module_docs = pool.submit(_ansible_doc, "-t", "module", *modules)
        listed = {kind: pool.submit(_ansible_doc, "-t", kind, "-l", "ansible.builtin")
                  for kind in ("filter", "test", "lookup")}
        docs, names = module_docs.result(), {kind: job.result() for kind, job in listed.items()}
    env = TemplateEngine(bytecode_dir=None).env
    jinja_names = {"filter": set(env.filters), "test": set(env.tests)}
    sections = [
        _table("Modules", _module_rows(docs), "module"),
        _table("Task keywords", _keyword_rows(), "keyword"),
        _table("Filters (ansible.builtin; Jinja2's own are all there)",
               _plugin_rows(names["filter"], jinja_names["filter"], "filter"), "filter"),
        _table("Tests (ansible.builtin; Jinja2's own are all there)",
               _plugin_rows(names["test"], jinja_names["test"], "test"), "test"),
        _table("Lookups (ansible.builtin)", _plugin_rows(names["lookup"], set(LOOKUPS), "lookup"), "lookup"),
    ]
    intro = (
        "# Engine coverage\n\n"
        "What kprov's provisioning engine runs of Ansible's modules, task keywords, filters, tests\n"
        "and lookups, generated from the code by `tests/engine_coverage.py` against ansible-core\n"
        f"{ansible.release.__version__} (do not edit by hand; a unit test fails when it is stale).\n"
        "A module is *partly* there when it lacks some of Ansible's options (named); a task using\n"
        "one fails with \"unsupported parameter\" rather than doing something else. *protocol*:\n"
        "a module kprov does not build in, run through Ansible's module protocol (packed with\n"
        "ansible-core's module_utils: the `kprov[ansible]` extra); *ansible-core*: a filter, test or\n"
        "lookup kprov lacks, ansible-core's own plugin.\n"
    )
    return intro + "\n" + "\n".join(sections)


def page_version(text: str) -> str | None:
    """The ansible-core version a page was generated against (None: not a page of ours)."""
    marker = "against ansible-core\n"
    at = text.find(marker)
    return text[at + len(marker):].split(" ", 1)[0] if at >= 0 else None


def main() -> int:
    page = render_page()
    if "--check" in sys.argv[1:]:
        return 0 if PAGE.exists() and PAGE.read_text(encoding="utf-8") == page else 1
    PAGE.write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
