"""Filters, tests and lookups of installed collections, by fully qualified and routed short
names, through ansible-core's own loaders (collection_plugins)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import TemplateError
from kprov.provision.modules.protocol.locate import collection_roots
from kprov.provision.templates import TemplateEngine
from tests.unit.provision.harness import run_fake, statuses

installed = {p.name for root in collection_roots(None) for p in root.iterdir()}
pytestmark = pytest.mark.skipif(not {"community", "ansible"} <= installed,
                                reason="the ansible package's collections are not installed")


def test_collection_filter_and_test_by_fqcn() -> None:
    scope = TemplateEngine().scope([({"v": {"a": {"b": 1}}}, False)])
    assert scope.template("{{ 'x' | community.general.dict_kv('k') }}", "t") == {"k": "x"}
    assert scope.template("{{ v | ansible.utils.to_paths }}", "t") == {"a.b": 1}
    assert scope.template("{{ 'abc' is ansible.builtin.search('b') }}", "t") is True


def test_a_short_name_resolves_only_where_ansible_routes_it() -> None:
    scope = TemplateEngine().scope([({"v": {"a": {"b": 1}}}, False)])
    # json_query is routed by ansible-core to community.general; to_paths is not routed
    pytest.importorskip("jmespath")
    assert scope.template("{{ v | json_query('a.b') }}", "t") == "1"  # a number renders as text
    with pytest.raises(TemplateError, match="to_paths"):
        scope.template("{{ v | to_paths }}", "t")


def test_collection_lookup_in_a_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {
        "tree/one.txt": "1\n",
        "tree/sub/two.txt": "2\n",
        "site.yml": ("- hosts: all\n  gather_facts: false\n  tasks:\n"
                     "    - name: walk\n      set_fact:\n"
                     "        seen: \"{{ seen | default([]) + [item.path] }}\"\n"
                     "      with_community.general.filetree: tree/\n      when: item.state == 'file'\n"
                     "    - name: routed short name\n      set_fact:\n"
                     "        short: \"{{ lookup('filetree', 'tree/', wantlist=True) | length }}\"\n"),
    }
    report, runtime = run_fake(tmp_path, monkeypatch, files, ["a"])
    assert report.ok, [r.msg for r in report.results if r.status == "failed"]
    assert sorted(runtime["a"]["seen"]) == ["one.txt", "sub/two.txt"]
    assert int(runtime["a"]["short"]) == 3  # one.txt, sub and sub/two.txt (filetree lists the folder too)
    assert ("walk", "ok") in statuses(report, "a")
