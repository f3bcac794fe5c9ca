"""A template's Jinja2 settings (template_settings): the ``#jinja2:`` first line read as
settings over the task's, its syntax errors as ansible-core 2.19 names them, and the engine
rendering with them (one overlay per distinct settings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import TemplateError
from kprov.provision.template_settings import DEFAULT_SETTINGS, split_header
from kprov.provision.templates import TemplateEngine, VarScope


@pytest.fixture
def scope(tmp_path: Path) -> VarScope:
    return TemplateEngine(bytecode_dir=tmp_path / "jinja").scope([({"xs": [1, 2], "v": "x"}, False)])


def test_header_is_read_and_removed() -> None:
    header = "#jinja2: trim_blocks: False, lstrip_blocks: True\n"
    body, settings = split_header(header + "body\n", DEFAULT_SETTINGS, "t")
    assert body == "body\n"
    assert settings.overlay() == {"trim_blocks": False, "lstrip_blocks": True}
    body, settings = split_header("#jinja2:variable_start_string:'[%', variable_end_string:'%]'\n[% v %]",
                                  DEFAULT_SETTINGS.merged({"lstrip_blocks": True}), "t")
    assert settings.variable_start_string == "[%" and settings.lstrip_blocks  # over the task's own
    assert split_header("no header\n", DEFAULT_SETTINGS, "t") == ("no header\n", DEFAULT_SETTINGS)


@pytest.mark.parametrize(("source", "problem"), [
    ("#jinja2: trim_blocks: False", "missing newline"),
    ("#jinja2: trim_blocks: False,\nx", "empty"),
    ("#jinja2: trim_blocks False\nx", "missing key-value separator"),
    ("#jinja2: autoescape: True\nx", "invalid '#jinja2:' override key 'autoescape'"),
    ("#jinja2: trim_blocks: maybe\nx", "not a Python literal"),
    ("#jinja2: trim_blocks: 'no'\nx", "trim_blocks must be a boolean"),
    ("#jinja2: variable_start_string: '{%'\nx", "must be different"),
])
def test_header_syntax_errors(source: str, problem: str) -> None:
    with pytest.raises(TemplateError, match=problem):
        split_header(source, DEFAULT_SETTINGS, "conf.j2")


def test_render_with_a_header_and_with_task_settings(scope: VarScope) -> None:
    header = "#jinja2: trim_blocks: False, lstrip_blocks: True\n"
    source = header + "  {% for x in xs %}\n{{ x }}\n  {% endfor %}\nend\n"
    assert scope.render(source, "t") == "\n1\n\n2\n\nend\n"
    plain = "  {% for x in xs %}\n{{ x }}\n  {% endfor %}\nend\n"
    assert scope.render(plain, "t") == "  1\n  2\n  end\n"  # Ansible's defaults: trim_blocks only
    assert scope.render(plain, "t", DEFAULT_SETTINGS.merged({"lstrip_blocks": True})) == "1\n2\nend\n"
    assert scope.render("#jinja2: newline_sequence: '\\r\\n'\na\n{{ 'b\\nc' }}\n", "t") == "a\r\nb\nc\n"


def test_restored_trailing_newlines_use_the_tasks_sequence(scope: VarScope) -> None:
    # ansible-core 2.19: the newlines Jinja dropped at the end come back in the task's sequence
    # (2.18 used the header's)
    crlf = DEFAULT_SETTINGS.merged({"newline_sequence": "\r\n"})
    assert scope.render("a\nb\n", "t", crlf) == "a\r\nb\r\n"
    assert scope.render("#jinja2: newline_sequence: '\\r'\na\n", "t") == "a\n"


def test_a_header_string_is_a_template(scope: VarScope) -> None:
    assert scope.template("#jinja2: variable_start_string: '[['\n[[ v }}", "t") == "x"
