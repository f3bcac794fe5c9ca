"""Constant `matches` patterns compiled once (api/cel/regex_constants.py): the same answers as
the runtime's built-in `matches`, which a pattern bound as a variable still reaches."""

from __future__ import annotations

import pytest

from kprov.cluster.api.cel.environment import Context, EvaluationError, environment
from kprov.cluster.api.cel.regex_constants import FUNCTION

PATTERNS = [
    r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$",  # Gateway API's path rule
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
    r"\d+",
    r"^\w+$",
    r"(?i)^abc$",
    r"^.$",
    r"^\p{L}+$",
    r"",
    r"\bword\b",
    r"^a|b$",
]
TEXTS = ["/foo/bar", "/f o", "abc", "ABC", "é", "日本", "my-name", "-bad", "x12y", "a word here", "", "ab"]


def _rewritten(program: object) -> bool:
    return FUNCTION.encode() in program._expression.serialize()  # type: ignore[attr-defined]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_constant_pattern_answers_as_the_builtin(pattern: str) -> None:
    env = environment()
    quoted = pattern.replace("\\", "\\\\").replace("'", "\\'")
    member = env.compile(f"s.matches('{quoted}')", {"s": "string"})
    both = env.compile(f"matches(s, '{quoted}')", {"s": "string"})
    builtin = env.compile("s.matches(p)", {"s": "string", "p": "string"})
    assert _rewritten(member) and _rewritten(both) and not _rewritten(builtin)
    for text in TEXTS:
        expected = builtin.execute(Context({"s": text, "p": pattern}))
        assert member.execute(Context({"s": text})) is expected, (pattern, text)
        assert both.execute(Context({"s": text})) is expected, (pattern, text)


def test_calls_inside_loops_and_literals_are_compiled_once_too() -> None:
    env = environment()
    program = env.compile(
        "self.all(x, x.matches('^[a-z]+$')) && {'k': 'b'.matches('b')}.k && [1].exists(i, 'z'.matches('z'))",
        {"self": "dyn"},
    )
    assert program._expression.serialize().count(FUNCTION.encode()) == 3
    assert program.execute(Context({"self": ["ab", "cd"]})) is True
    assert program.execute(Context({"self": ["ab", "C"]})) is False


def test_a_pattern_re2_refuses_keeps_the_runtimes_error() -> None:
    env = environment()
    program = env.compile("self.matches('a(?=b)')", {"self": "dyn"})
    assert not _rewritten(program)
    with pytest.raises(EvaluationError, match="invalid perl operator"):
        program.execute(Context({"self": "ab"}))


def test_a_value_that_is_not_a_string_finds_no_overload_as_before() -> None:
    env = environment()
    constant = env.compile("self.matches('^a')", {"self": "dyn"})
    bound = env.compile("self.matches(p)", {"self": "dyn", "p": "dyn"})
    with pytest.raises(EvaluationError) as rewritten:
        constant.execute(Context({"self": 5}))
    with pytest.raises(EvaluationError) as builtin:
        bound.execute(Context({"self": 5, "p": "^a"}))
    assert str(rewritten.value) == str(builtin.value) == "no such overload"
