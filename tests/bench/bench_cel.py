"""CEL: cel-spec conformance of kprov's environment, and the candidate runtimes side by side.

Prints, for kprov's CEL environment (kprov.cluster.api.cel.environment):
  cel_spec_cases_passed   cel-spec cases (sections that apply to Kubernetes) it passes
  cel_spec_cases_total    those cases
  k8s_library_cases_passed / k8s_library_cases_total   Kubernetes' library test cases
With --candidates, the same pass rate for every installed candidate runtime and its
microseconds per evaluation of typical CRD rules against one object (in process, one after the
other; the machine is shared, so an indication only).
Run: .venv/bin/python tests/bench/bench_cel.py [--candidates] [--failures]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests import cel_candidates, cel_spec  # noqa: E402

RULES = (
    "self.metadata.name.size() <= 63",
    "self.spec.replicas >= 0 && self.spec.replicas <= 100",
    "self.spec.rules.all(r, r.matches.size() <= 8)",
    "self.spec.hostnames.exists(h, h.startsWith('www.'))",
    "!has(self.spec.paused) || self.spec.paused == false",
)
OBJECT = {
    "metadata": {"name": "web-frontend", "labels": {"app": "web", "tier": "front"}},
    "spec": {
        "replicas": 3,
        "hostnames": ["example.com", "www.example.com"],
        "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": f"/p{i}"}}]} for i in range(4)],
    },
}


def _us_per_eval(name: str, held: bool = False) -> float:
    """Microseconds per evaluation of RULES against OBJECT: given as plain data each call, or
    (``held``) against a context/activation built once, as a request's programs share one."""
    rounds = 2000
    if name == "common-expression-language":
        import cel

        programs = [cel.compile(r) for r in RULES]
        context: Any = {"self": OBJECT}
        if held:
            context = cel.Context()
            context.add_variable("self", OBJECT)
        run = lambda p: p.execute(context)  # noqa: E731
    elif name == "cel-expr-python":
        from cel_expr_python import cel as cpp

        env = cpp.NewEnv(variables={"self": cpp.Type.DYN})
        programs = [env.compile(r) for r in RULES]
        activation = env.Activation(data={"self": OBJECT})
        run = (lambda p: p.eval(activation)) if held else (lambda p: p.eval(data={"self": OBJECT}))  # noqa: E731
    elif name == "cel-python":
        import celpy

        environment = celpy.Environment()
        programs = [environment.program(environment.compile(r)) for r in RULES]
        converted = {"self": celpy.json_to_cel(OBJECT)}
        run = (  # noqa: E731
            (lambda p: p.evaluate(converted))
            if held
            else (lambda p: p.evaluate({"self": celpy.json_to_cel(OBJECT)}))
        )
        rounds = 200
    else:
        from kprov.cluster.api.cel.environment import Context, environment

        env = environment()
        programs = [env.compile(r, {"self": "dyn"}) for r in RULES]
        shared = Context({"self": OBJECT})
        run = (lambda p: p.execute(shared)) if held else (lambda p: p.evaluate({"self": OBJECT}))  # noqa: E731
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(rounds):
            for program in programs:
                run(program)
        best = min(best, (time.perf_counter() - start) / (rounds * len(programs)) * 1e6)
    return best


def _report(name: str, tally: cel_spec.Tally, failures: bool) -> None:
    print(f"{name}: cel_spec_cases_passed = {tally.passed}")
    print(f"{name}: cel_spec_cases_total = {tally.total}")
    if failures:
        for case_id, what in tally.failures:
            print(f"  FAIL {case_id}: {what}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", action="store_true")
    parser.add_argument("--failures", action="store_true")
    args = parser.parse_args()
    cases = list(cel_spec.cases())
    skipped: dict[str, int] = {}
    for case in cases:
        if case.skip:
            skipped[case.skip] = skipped.get(case.skip, 0) + 1
    from tests.kprov_cel import k8s_cases, kprov_evaluator, run_k8s_cases

    tally = cel_spec.run(kprov_evaluator(), cases)
    print(f"cel_spec_cases_passed = {tally.passed}")
    print(f"cel_spec_cases_total = {tally.total}")
    agreed, total, disagreements = run_k8s_cases(k8s_cases())
    print(f"k8s_library_cases_passed = {agreed}")
    print(f"k8s_library_cases_total = {total}")
    if args.failures:
        for case_id, what in tally.failures:
            print(f"  FAIL {case_id}: {what}")
        for what in disagreements:
            print(f"  K8S {what}")
    print("skipped (cases: reason):")
    for reason, count in sorted(skipped.items(), key=lambda kv: -kv[1]):
        print(f"  {count:4d}: {reason}")
    if not args.candidates:
        return
    for name, factory in cel_candidates.CANDIDATES.items():
        try:
            evaluate = factory()
        except ImportError:
            print(f"{name}: not installed")
            continue
        selected = cases
        if name == "common-expression-language":  # its results carry no uint: compare as int
            selected = [
                dataclasses.replace(c, expected=cel_candidates.uint_as_int(c.expected)) for c in cases
            ]
        _report(name, cel_spec.run(evaluate, selected), args.failures)
        print(f"{name}: cel_eval_us = {_us_per_eval(name):.1f}")
        print(f"{name}: cel_eval_held_us = {_us_per_eval(name, held=True):.1f}")
    print(f"kprov: cel_eval_us = {_us_per_eval('kprov'):.1f}")
    print(f"kprov: cel_eval_held_us = {_us_per_eval('kprov', held=True):.1f}")


if __name__ == "__main__":
    main()
