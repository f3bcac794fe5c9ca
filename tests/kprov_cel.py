"""kprov's CEL environment (kprov.cluster.api.cel.environment) under test: an evaluator for
cel-spec's cases (tests/cel_spec.py) and a runner for Kubernetes' library cases
(tests/data/k8s-cel/*.yaml, upstream's library *_test.go expressions and expected results).

A Kubernetes case agrees when the expected result equals the result (CEL-typed: true is not
1), an expected runtime error is an evaluation error, or an expected compile error (a
pattern, as upstream's tests match them) matches the compile error. Runtime error TEXT is not
compared: upstream's texts embed Go's parser messages (``ParseAddr(...): IPv4 address too
long``); the agreement rate counts the outcome.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.cel_candidates import cpp_neutral
from tests.cel_spec import Case, same

K8S_DATA = Path(__file__).parent / "data" / "k8s-cel"


def kprov_evaluator() -> Callable[[Case], Any]:
    from kprov.cluster.api.cel.environment import environment

    env = environment()

    def evaluate(case: Case) -> Any:
        variables = dict(case.decls) | {n: "dyn" for n in case.bindings if n not in case.decls}
        program = env.compile(case.expr, variables, check=not case.disable_check)
        return cpp_neutral(program.evaluate_value(case.bindings))

    return evaluate


def k8s_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(K8S_DATA.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            cases.append({"library": path.stem, **case})
    return cases


def agrees(case: dict[str, Any]) -> tuple[bool, str]:
    from kprov.cluster.api.cel.environment import CompileError, EvaluationError, environment, plain

    try:
        program = environment().compile(case["expr"], {})
    except CompileError as exc:
        pattern = case.get("compile_error")
        return (pattern is not None and re.search(pattern, str(exc)) is not None), f"compile error: {exc}"
    try:
        value = program.evaluate_value({})
        result = plain(value)
    except EvaluationError as exc:
        return "error" in case, f"runtime error: {exc}"
    if case.get("evaluates"):  # upstream's cost tests: any value, no error
        return True, f"got {value!r}"
    if "result_type" in case:  # a library type's value: its type and its canonical text
        text = next(iter(result.ListFields()))[1] if hasattr(result, "ListFields") else None
        got = (value.type().name(), text)
        return got == (case["result_type"], case["result_text"]), f"got {got}"
    if "result" not in case:
        return False, f"got {result!r}"
    return same(case["result"], result), f"got {result!r}, want {case['result']!r}"


def skipped_k8s_cases(cases: list[dict[str, Any]]) -> list[str]:
    """The cases left out of the count, each with its reason."""
    return [f"{c['library']}/{c['name']}: {c['skip']}" for c in cases if c.get("skip")]


def run_k8s_cases(cases: list[dict[str, Any]]) -> tuple[int, int, list[str]]:
    """(agreed, total, disagreements) over the cases that apply to v1.32 (no ``skip``)."""
    cases = [c for c in cases if not c.get("skip")]
    agreed, disagreements = 0, []
    for case in cases:
        ok, what = agrees(case)
        if ok:
            agreed += 1
        else:
            disagreements.append(f"{case['library']}/{case['name']}: {what}")
    return agreed, len(cases), disagreements
