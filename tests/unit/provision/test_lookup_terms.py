"""A lookup's terms are templated before it runs, as ansible-core 2.18's
``listify_lookup_plugin_terms`` does for ``lookup()``/``query()`` and every ``with_<lookup>``
(a string inside them too; a ``with_*`` string stripped first), and ``flattened`` is
community.general's (10.x): a string term listified again, 'None'/'null' ending its list, a
bare name kept as text. Every value here is what ansible-playbook 2.18.19 printed for the
same play (local connection)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .harness import run_fake

_VARS = ("  vars:\n    pv: play\n    tmpl: \"{{ '{{' }} pv }}\"\n    names: [pv]\n"
         "    nested: [1, [2, [3, [4]]]]\n    d: {k1: 1, k2: 2}\n")

_LOOKUPS = {
    "items of a template": ("{{ lookup('items', '{{ pv }}') }}", "play"),
    "items nested": ("{{ query('items', ['{{ pv }}', ['{{ pv }}', 'z']]) }}", ["play", ["play", "z"]]),
    "items of built text": ("{{ query('items', tmpl) }}", ["play"]),
    "items unstripped": ("{{ lookup('items', ' {{ pv }} ') }}", " play "),
    "flattened": ("{{ query('community.general.flattened', ['{{ pv }}', 'pv', tmpl, ' s ', nested]) }}",
                  ["play", "pv", "play", "s", 1, 2, 3, 4]),
    "flattened None": ("{{ query('community.general.flattened', ['a', 'None', 'b']) }}", ["a"]),
    "flattened null": ("{{ query('community.general.flattened', ['a', '', 'b', 'null', 'c']) }}",
                       ["a", "", "b"]),
    "flattened inner None": ("{{ query('community.general.flattened', [['a', 'None', 'b'], 'c']) }}",
                             ["a", "c"]),
}

_LOOPS = {
    "with_flattened": ("[pv, '{{ pv }}', ' s ', '{{ tmpl }}', '{{ names }}', [[x]], '{{ nested }}']",
                       ["pv", "play", "s", "play", "pv", "x", 1, 2, 3, 4]),
    "with_flattened ": ("[a, None, b]", ["a"]),
    "with_flattened  ": ("[a, ~, '', 3]", ["a", None, "", 3]),
    "with_flattened   ": ("pv", ["pv"]),
    "with_items": ("'{{ d }}'", ["k1", "k2"]),
    "with_items ": ("\"{{ tmpl }}\"", ["{{ pv }}"]),  # rendered once: the item is unsafe data
    "with_items  ": ("['{{ pv }}', x, ['{{ pv }}']]", ["play", "x", "play"]),
    "with_list": ("abc", ["abc"]),
    # mappings as the playbook's YAML gives them: their templated values rendered (the corpus's
    # geerlingguy.security writes sshd_config lines from such items)
    "with_items   ": ("[{line: 'A {{ pv }}'}, {line: b}]", [{"line": "A play"}, {"line": "b"}]),
}


def _play() -> str:
    tasks = "".join(f"    - name: {name}\n      debug: {{msg: \"{expr}\"}}\n"
                    for name, (expr, _) in _LOOKUPS.items())
    tasks += "".join(f"    - name: {key.strip()} {i}\n      debug: {{msg: '{{{{ item }}}}'}}\n"
                     f"      {key.strip()}: {terms}\n"
                     for i, (key, (terms, _)) in enumerate(_LOOPS.items()))
    return f"- hosts: h1\n  gather_facts: false\n{_VARS}  tasks:\n{tasks}"


def test_lookup_terms_are_templated_and_flattened_as_ansible_core_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report, _ = run_fake(tmp_path, monkeypatch, {"site.yml": _play()}, ["h1"])
    assert report.ok, [r.msg for r in report.results if r.status == "failed"]
    shown: dict[str, Any] = {r.task: r.result for r in report.results}
    for name, (_, expected) in _LOOKUPS.items():
        assert shown[name]["msg"] == expected, name
    for i, (key, (terms, expected)) in enumerate(_LOOPS.items()):
        items = [r["item"] for r in shown[f"{key.strip()} {i}"]["results"]]
        assert items == expected, (key, terms)
