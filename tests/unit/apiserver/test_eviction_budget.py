"""One eviction's take of a PodDisruptionBudget (upstream's checkAndDecrement), without a server:
the refusals in upstream's words and the budget as the eviction writes it."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.apiserver.handlers.eviction import MAX_DISRUPTED_PODS, VIOLATION, taken_disruption
from kprov.cluster.apiserver.request.status import StatusError

NOW = "2026-12-02T12:00:00Z"


def _budget(allowed: int, generation: int = 2, observed: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "guard", "namespace": "ns", "generation": generation},
        "status": {"observedGeneration": observed, "disruptionsAllowed": allowed,
                   "currentHealthy": 3, "desiredHealthy": 2, **status},
    }


def test_the_last_disruption_taken_turns_the_condition_false() -> None:
    allowed = {"type": "DisruptionAllowed", "status": "True", "reason": "SufficientPods",
               "lastTransitionTime": "2026-01-01T00:00:00Z"}
    budget = _budget(1, conditions=[allowed])
    taken = taken_disruption(budget, "p", NOW)
    status = taken["status"]
    assert status["disruptionsAllowed"] == 0 and status["disruptedPods"] == {"p": NOW}
    assert status["conditions"] == [{"type": "DisruptionAllowed", "status": "False",
                                     "reason": "InsufficientPods", "message": "",
                                     "observedGeneration": 2, "lastTransitionTime": NOW}]
    assert budget["status"]["disruptionsAllowed"] == 1  # the budget read is not changed
    assert budget["status"]["conditions"][0]["status"] == "True"


def test_one_of_several_leaves_the_condition_alone() -> None:
    status = taken_disruption(_budget(3), "p", NOW)["status"]
    assert status["disruptionsAllowed"] == 2 and "conditions" not in status


@pytest.mark.parametrize(
    ("budget", "code", "message", "cause"),
    [
        (_budget(1, generation=3, observed=2), 429, VIOLATION,
         "The disruption budget guard is still being processed by the server."),
        (_budget(0), 429, VIOLATION, "The disruption budget guard needs 2 healthy pods and has 3 currently"),
        (_budget(-1), 403,
         'poddisruptionbudget.policy "guard" is forbidden: pdb disruptions allowed is negative', None),
        (_budget(1, disruptedPods={f"p{i}": NOW for i in range(MAX_DISRUPTED_PODS + 1)}), 403,
         'poddisruptionbudget.policy "guard" is forbidden: '
         "DisruptedPods map too big - too many evictions not confirmed by PDB controller", None),
    ],
)
def test_refusals_in_upstreams_words(
    budget: dict[str, Any], code: int, message: str, cause: str | None
) -> None:
    with pytest.raises(StatusError) as refused:
        taken_disruption(budget, "p", NOW)
    assert (refused.value.code, refused.value.message) == (code, message)
    causes = refused.value.details.get("causes")
    assert causes == ([{"reason": "DisruptionBudget", "message": cause}] if cause else None)
