"""What a template's value finally is, as ansible-core's finalize makes it (undefined target):
generators unrolled, an undefined value inside a list or mapping an error, and an undefined
value's repr as ansible-core's AnsibleUndefined."""

from __future__ import annotations

import pytest

from kprov.provision.errors import UndefinedVariableError
from kprov.provision.templates import TemplateEngine


def test_generators_and_views_become_lists() -> None:
    scope = TemplateEngine().scope([({"things": [{"name": "a"}, {"name": "b"}]}, False)])
    assert scope.template("{{ things | map(attribute='name') }}", "t") == ["a", "b"]
    assert scope.template("{{ range(2) }}", "t") == [0, 1]
    assert scope.template("{{ {'k': 1}.keys() }}", "t") == ["k"]
    assert scope.template("x {{ things | map(attribute='name') }}", "t") == "x ['a', 'b']"


def test_an_undefined_value_inside_the_result_fails_the_template() -> None:
    scope = TemplateEngine().scope([({"things": [{"name": "a"}, {"notname": "c"}]}, False)])
    with pytest.raises(UndefinedVariableError, match="undefined variable"):
        scope.template("{{ things | map(attribute='name') }}", "t")
    with pytest.raises(UndefinedVariableError):
        scope.template("{{ {'k': [missing]} }}", "t")
    assert scope.template("{{ things | map(attribute='name') | select('defined') | list }}", "t") == ["a"]


def test_an_undefined_values_repr_is_ansible_cores() -> None:
    scope = TemplateEngine().scope([({}, False)])
    assert scope.evaluate('"%r" | format(undefined_variable)', "t") == (
        "AnsibleUndefined(hint=None, obj=missing, name='undefined_variable')")
