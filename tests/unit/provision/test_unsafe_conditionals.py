"""Registered module results are untrusted (ansible-core's unsafe marking): a conditional
whose inline template puts one into the expression fails instead of evaluating it
(ansible-core's conditionals target, round 6b)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kprov.provision.errors import TemplateError
from kprov.provision.templates import TemplateEngine

from .harness import run_fake

UNSAFE = "Conditional is marked as unsafe, and cannot be evaluated."


def test_an_inline_template_of_an_untrusted_variable_is_not_evaluated() -> None:
    scope = TemplateEngine().scope([({"r": {"stdout": "undefined_thing()"}, "ok": {"x": "1"}}, False)])
    scope.untrusted = frozenset({"r"})
    with pytest.raises(TemplateError, match=UNSAFE):
        scope.condition('"foo" in {{ r.stdout }}', "when")
    assert scope.condition("{{ r.stdout == 'undefined_thing()' }}", "when") is True  # a plain bool
    assert scope.condition("'thing' in r.stdout", "when") is True  # no inline template
    assert scope.condition("{{ ok.x }} == 1", "when") is True  # trusted data


def test_a_registered_result_in_an_inline_conditional_fails_the_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"site.yml": ("- hosts: all\n  gather_facts: false\n  tasks:\n"
                          "    - {debug: {msg: x}, register: r}\n"
                          "    - debug: {msg: hi}\n      when: '\"foo\" in {{ r.msg }}'\n"
                          "      ignore_errors: true\n")}
    report, _ = run_fake(tmp_path, monkeypatch, files, ["h1"])
    failed = [r for r in report.results if r.status == "failed"]
    assert len(failed) == 1 and failed[0].ignored and UNSAFE in failed[0].msg
