"""An HTTPRoute against Gateway API v1.6.1's rules (tests/data/gateway-api-v1.6.1), in process.

Prints:
  cel_eval_us                       the CEL rules' share of validating one HTTPRoute (with
                                    rules minus without), its v1.6.1 rules run by kprov's
                                    CEL environment; every route validated is a new value
                                    (its own path), so the rules are evaluated each time
  cel_eval_repeat_us                the same for one route validated again and again: its
                                    rules' answer kept by value (api/crd/fold_answers.py)
  crd_validate_with_rules_us        schema validation with the CRD's rules
  crd_validate_without_rules_us     the same schema with every x-kubernetes-validations removed
  crd_validate_with_rules_ratio     without / with: the in-process counterpart of the issue's
                                    crd_create_with_rules_ratio (creates per second through a
                                    server, which bench_apiserver would measure), an indication
The route is defaulted first, as the API server does before it validates. CPU, best of five runs;
the machine is shared, so the figures are indications.
Run: .venv/bin/python tests/bench/bench_cel_httproute.py
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import yaml  # noqa: E402

from kprov.cluster.api.crd.pruning import default  # noqa: E402
from kprov.cluster.api.crd.structural import compile_schema, validate  # noqa: E402
from kprov.cluster.api.validation.field_errors import Errors  # noqa: E402
from tests.unit.api.test_gateway_api_cel import BUNDLE, httproute  # noqa: E402

ROUNDS = 300


def _without_rules(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _without_rules(v) for k, v in schema.items() if k != "x-kubernetes-validations"}
    if isinstance(schema, list):
        return [_without_rules(v) for v in schema]
    return schema


def _route(node: Any, path: str = "/api") -> dict[str, Any]:
    route = httproute(path)
    route["spec"]["rules"] *= 4  # four rules, as a small application's route
    default(node, route)  # the API server defaults before it validates
    return route


def _us(node: Any, routes: list[list[dict[str, Any]]]) -> float:
    """Best of the runs' CPU microseconds a validation (one list of routes a run)."""
    best = float("inf")
    for run in routes:
        start = time.process_time()
        for route in run:
            errors = Errors()
            validate(node, route, errors)
            assert not errors.causes, errors.causes
        best = min(best, (time.process_time() - start) / len(run) * 1e6)
    return best


def main() -> None:
    text = (BUNDLE / "gateway.networking.k8s.io_httproutes.yaml").read_text(encoding="utf-8")
    (v1,) = [v for v in yaml.safe_load(text)["spec"]["versions"] if v["name"] == "v1"]
    raw = v1["schema"]["openAPIV3Schema"]
    with_rules, without = compile_schema(raw), compile_schema(_without_rules(copy.deepcopy(raw)))
    varied = [[_route(with_rules, f"/api/{r}/{i}") for i in range(ROUNDS)] for r in range(5)]
    same = [[_route(with_rules)] * ROUNDS for _ in range(5)]
    with_us, without_us = _us(with_rules, varied), _us(without, varied)
    repeat_us = _us(with_rules, same) - _us(without, same)
    print(f"cel_eval_us = {with_us - without_us:.1f}")
    print(f"cel_eval_repeat_us = {repeat_us:.1f}")
    print(f"crd_validate_with_rules_us = {with_us:.1f}")
    print(f"crd_validate_without_rules_us = {without_us:.1f}")
    print(f"crd_validate_with_rules_ratio = {without_us / with_us:.2f}")


if __name__ == "__main__":
    main()
