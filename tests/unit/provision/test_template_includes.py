"""Templates that include other templates, and the ``template`` lookup's options, as
ansible-core renders them (lookup_template target)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import TemplateError
from kprov.provision.template_includes import action_search_path, lookup_search_path
from kprov.provision.templates import TemplateEngine, VarScope


def _role(tmp_path: Path) -> Path:
    role = tmp_path / "role"
    (role / "templates" / "parts").mkdir(parents=True)
    (role / "templates" / "hello.txt").write_text("Hello {% include 'world.txt' %}!\n")
    (role / "templates" / "world.txt").write_text("world\n")
    (role / "templates" / "deep.j2").write_text("{% include 'parts/x.j2' %}")
    (role / "templates" / "parts" / "x.j2").write_text("x={{ v }}")
    (role / "templates" / "string.txt").write_text("Hello [% my_var %]!\n")
    (role / "templates" / "dict.j2").write_text('{"foo": "{{ \'bar\' }}"}\n')
    return role


def _scope(role: Path, **more: object) -> VarScope:
    return TemplateEngine().scope([({"ansible_search_path": [str(role)], "v": 7, **more}, False)])


def test_a_looked_up_template_includes_from_its_folder_and_the_search_path(tmp_path: Path) -> None:
    scope = _scope(_role(tmp_path))
    assert scope.template("{{ lookup('template', 'hello.txt') }}", "t").strip() == "Hello world!"
    assert scope.template("{{ lookup('template', 'deep.j2') }}", "t") == "x=7"


def test_the_lookups_delimiters_template_vars_and_convert_data(tmp_path: Path) -> None:
    scope = _scope(_role(tmp_path), my_var="world")
    got = scope.template("{{ lookup('template', 'string.txt', variable_start_string='[%', "
                         "variable_end_string='%]') }}", "t")
    assert got.strip() == "Hello world!"
    assert scope.template("{{ lookup('template', 'deep.j2', template_vars={'v': 9}) }}", "t") == "x=9"
    assert scope.evaluate("lookup('template', 'dict.j2')", "t") == {"foo": "bar"}
    text = scope.evaluate("lookup('template', 'dict.j2', convert_data=False)", "t")
    assert text.strip() == '{"foo": "bar"}'


def test_an_include_outside_the_path_is_not_found_and_the_path_ends_with_the_render(tmp_path: Path) -> None:
    role = _role(tmp_path)
    scope = _scope(tmp_path / "elsewhere")
    with pytest.raises(TemplateError, match="world.txt"):
        scope.render((role / "templates" / "hello.txt").read_text(), "t")
    searchpath = action_search_path({"ansible_search_path": [str(role)]}, role / "templates" / "hello.txt")
    assert scope.render("Hello {% include 'world.txt' %}!", "t", searchpath=searchpath) == "Hello world!"
    with pytest.raises(TemplateError, match="world.txt"):  # the path was only for that render
        scope.render("{% include 'world.txt' %}", "t")


def test_search_paths_are_ansible_cores_order(tmp_path: Path) -> None:
    variables = {"ansible_search_path": ["/r/a", "/p"], "playbook_dir": "/p"}
    assert lookup_search_path(variables, Path("/r/a/templates/t.j2")) == [
        Path("/r/a/templates"), Path("/r/a/templates"), Path("/r/a"), Path("/p/templates"), Path("/p")]
    assert action_search_path(variables, Path("/r/a/templates/t.j2"))[-4:] == [
        Path("/p/templates"), Path("/p"), Path("/r/a/templates/templates"), Path("/r/a/templates")]
