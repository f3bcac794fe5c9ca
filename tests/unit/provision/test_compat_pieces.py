"""Unit tests of the Ansible-compat pieces that need no host: deferred module names, the
comment filter, lookups' join rule, backslashes in expressions, include_vars directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import TemplateError
from kprov.provision.execute.engine_actions.include_vars import include_vars
from kprov.provision.lookups import join_lookup, run_lookup
from kprov.provision.playbook.ansible_names import deferrable
from kprov.provision.template_filters import ANSIBLE_FILTERS
from kprov.provision.templates import TemplateEngine


@pytest.mark.parametrize(
    ("name", "expected"),
    [("yum", True), ("ansible.builtin.dnf", True), ("community.general.pacman", True),
     ("ansible.posix.selinux", True), ("lineinfle", False), ("ansible.builtin.lineinfle", False)],
)
def test_deferrable_names(name: str, expected: bool) -> None:
    assert deferrable(name) is expected


def test_comment_filter_styles() -> None:
    comment = ANSIBLE_FILTERS["comment"]
    assert comment("a\nb") == "#\n# a\n# b\n#"
    assert comment("x", "cblock") == "/*\n *\n * x\n *\n */"
    assert comment("a\n\nb", "c") == "//\n// a\n//\n// b\n//"
    assert comment("x", decoration="; ", prefix_count=0, postfix_count=0) == "; x"


def test_lookup_join_and_unknown() -> None:
    assert join_lookup(["a", "b"]) == "a,b"
    assert join_lookup([3]) == 3
    assert join_lookup([1, 2]) == [1, 2]
    engine = TemplateEngine()
    scope = engine.scope([({"xs": [{"n": 1, "k": [1, 2]}, {"n": 2}]}, False)])
    pairs = run_lookup("subelements", [scope["xs"], "k", {"skip_missing": True}], scope, scope)
    assert [p[1] for p in pairs] == [1, 2]
    with pytest.raises(TemplateError, match="could not find 'k'"):
        run_lookup("subelements", [scope["xs"], "k"], scope, scope)
    with pytest.raises(TemplateError, match=r"lookup plugin \(nosuch\) not found|not supported by kprov"):
        run_lookup("nosuch", [], scope, scope)


def test_backslashes_in_expression_literals_stay() -> None:
    scope = TemplateEngine().scope([({"v": "12abc"}, False)])
    assert scope.template("{{ v | regex_replace('^(\\d+).*', '\\1') }}", "t") == "12"


def test_include_vars_dir_order_and_name(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.yml").write_text("x: 1\ny: a\n")
    (tmp_path / "d" / "b.yml").write_text("x: 2\n")
    (tmp_path / "d" / "sub" / "c.yml").write_text("z: 3\n")
    (tmp_path / "d" / "notes.txt").write_text("no")
    into: dict = {}
    result = include_vars({"dir": "d", "ignore_unknown_extensions": True, "name": "all"},
                          lambda name, kind: tmp_path / name, into, "t")
    assert into == {"all": {"x": 2, "y": "a", "z": 3}}
    assert [Path(f).name for f in result.data["ansible_included_var_files"]] == ["a.yml", "b.yml", "c.yml"]


def test_include_vars_failures_carry_ansible_cores_message_key(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "file_without_extension").write_text("x: 1\n")
    result = include_vars({"dir": "d", "ignore_unknown_extensions": False},
                          lambda name, kind: tmp_path / name, {}, "t")
    assert result.failed and "a valid extension" in result.data["message"]
    result = include_vars({"file": None}, lambda name, kind: tmp_path / name, {}, "t")
    assert result.failed and "Could not find file" in result.data["message"]


def test_numbers_native_only_from_a_bare_variable() -> None:
    scope = TemplateEngine().scope([({"m": 493, "d": {"p": 80}}, False)])
    assert scope.template("{{ m }}", "t") == 493
    assert scope.template("{{ d.p }}", "t") == "80"
    assert scope.template("{{ m + 1 }}", "t") == "494"


def test_trailing_newlines_as_ansible() -> None:
    scope = TemplateEngine().scope([({"xs": []}, False)])
    assert scope.render("{% for x in xs %}{{ x }}{% endfor %}\n", "t") == "\n"
    assert scope.render("a\n\n\n", "t") == "a\n\n\n"
    assert scope.render("{% if true %}\nb\n{% endif %}\n", "t") == "b\n"


def test_a_templated_value_with_a_string_literal_keeps_its_final_newline() -> None:
    # task arguments go through template(), whose backslash escaping re-joins Jinja's tokens
    scope = TemplateEngine().scope([({}, False)])
    assert scope.template("{{ 'a\\nb' }} and {{ 'c' }}\n", "t") == "a\\nb and c\n"


def test_include_vars_hash_behaviour_merge_merges_into_the_current_value(tmp_path: Path) -> None:
    (tmp_path / "hash2.yml").write_text("config:\n  key1: 1\n  key2: {b: 22}\n  key3: 3\n")
    current = {"config": {"key0": 0, "key1": 0, "key2": {"a": 21}}}
    into: dict = {}
    result = include_vars({"file": "hash2.yml", "hash_behaviour": "merge"},
                          lambda name, kind: tmp_path / name, into, "t", current=current)
    assert into["config"] == {"key0": 0, "key1": 1, "key2": {"a": 21, "b": 22}, "key3": 3}
    assert result.data["ansible_facts"] == into
    replaced: dict = {}
    include_vars({"file": "hash2.yml"}, lambda name, kind: tmp_path / name, replaced, "t", current=current)
    assert replaced["config"] == {"key1": 1, "key2": {"b": 22}, "key3": 3}


def test_include_vars_merge_onto_an_undefined_variable_fails_as_ansible_core(tmp_path: Path) -> None:
    (tmp_path / "v.yml").write_text("fresh: {a: 1}\n")
    result = include_vars({"file": "v.yml", "hash_behaviour": "merge"},
                          lambda name, kind: tmp_path / name, {}, "t", current={})
    assert result.failed
    expected = "failed to combine variables, expected dicts but got a 'NoneType' and a 'dict'"
    assert result.msg.startswith(expected)
