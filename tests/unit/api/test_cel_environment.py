"""kprov's CEL environment against cel-spec's conformance cases and Kubernetes' library cases
(both vendored as data), and the issue's examples of what was refused before."""

from __future__ import annotations

import pytest

from kprov.cluster.api.cel.environment import CompileError, EvaluationError, environment
from tests import cel_spec
from tests.kprov_cel import k8s_cases, kprov_evaluator, run_k8s_cases, skipped_k8s_cases


def test_cel_spec_sections_that_apply_to_kubernetes_pass_at_least_95_percent() -> None:
    tally = cel_spec.run(kprov_evaluator())
    print(f"cel_spec_cases_passed = {tally.passed}\ncel_spec_cases_total = {tally.total}")
    assert tally.total > 1000  # the applicable sections were read, not skipped wholesale
    assert tally.rate >= 0.95, tally.failures[:20]


def test_kubernetes_library_cases_agree_at_least_98_percent() -> None:
    cases = k8s_cases()
    agreed, total, disagreements = run_k8s_cases(cases)
    skipped = skipped_k8s_cases(cases)
    print(f"k8s_library_cases_passed = {agreed}\nk8s_library_cases_total = {total}")
    print(f"k8s_library_cases_agreement = {agreed / total:.1%}")
    print(f"k8s_library_cases_skipped = {len(skipped)}")
    assert {c["library"] for c in cases} >= {
        "ip",
        "cidr",
        "quantity",
        "lists",
        "regex",
        "urls",
        "sets",
        "cost",
    }
    assert total > 300
    assert agreed / total >= 0.98, disagreements


@pytest.mark.parametrize(
    ("expr", "value", "expected"),
    [
        ("matches(self, '^[a-z]+$')", "abc", True),  # the global form Gateway API's policy calls
        ("size(self) <= 3", "héé", True),  # code points, not UTF-8 bytes
        ("self.?team.orValue('none')", {}, "none"),
        ("[1, 2, 1].lastIndexOf(1)", None, 2),
        ("self.find('[0-9]+')", "ab12c", "12"),
        ("self.findAll('[0-9]')", "a1b2", ["1", "2"]),
        ("self.find('\\\\d+')", "a\u0661\u06623b", "3"),  # RE2's \\d is ASCII digits only
        ("isURL(self) && url(self).getHostname() == 'example.com'", "https://example.com:8443/x", True),
        ("quantity(self).isGreaterThan(quantity('1Gi'))", "2Gi", True),
        ("cidr('10.0.0.0/8').containsIP(ip(self))", "10.1.2.3", True),
        ("sets.intersects(self, [3, 4])", [1, 3], True),
    ],
)
def test_kubernetes_functions_evaluate(expr: str, value: object, expected: object) -> None:
    assert environment().compile(expr, {"self": "dyn"}).evaluate({"self": value}) == expected


def test_errors_are_compile_or_evaluation_errors() -> None:
    with pytest.raises(CompileError, match="undeclared reference"):
        environment().compile("nope(1)", {})
    with pytest.raises(EvaluationError, match="parse error"):
        environment().compile("ip('300.1.1.1')", {}).evaluate({})
    with pytest.raises(EvaluationError):
        environment().compile("self.missing", {"self": "dyn"}).evaluate({"self": {}})


@pytest.mark.parametrize(
    ("expr", "message"),
    [  # cel-go's texts, which upstream's error messages quote
        ("{'a': 1}.b", "no such key: b"),
        ("1 / (size(self) - size(self))", "division by zero"),
        ("[1][3]", "index '3' out of range in list size '1'"),
        ("9223372036854775807 + size(self)", "integer overflow"),
    ],
)
def test_runtime_errors_are_worded_as_cel_go(expr: str, message: str) -> None:
    with pytest.raises(EvaluationError) as caught:
        environment().compile(expr, {"self": "dyn"}).evaluate({"self": "x"})
    assert str(caught.value) == message
