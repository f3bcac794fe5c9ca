"""policy/v1 PodDisruptionBudgets at the API layer (validation, columns) and the disruption
controller's int-or-percent arithmetic."""

import datetime as dt

import pytest

from kprov.cluster.api.printers.tables import to_table
from kprov.cluster.api.resources import REGISTRY
from kprov.cluster.api.validation.core import validate
from kprov.cluster.controllers.housekeeping.disruption import resolve

PDBS = REGISTRY.get("policy", "v1", "poddisruptionbudgets")
NOW = dt.datetime(2024, 1, 10, 12, 0, 0, tzinfo=dt.UTC)


def pdb(**spec):
    return {
        "metadata": {"name": "p", "namespace": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, **spec},
    }


def test_validation() -> None:
    assert [str(c) for c in validate(PDBS, pdb(minAvailable="50%"))] == []
    got = [str(c) for c in validate(PDBS, pdb(minAvailable=1, maxUnavailable="150%"))]
    assert got[0].startswith("spec: Invalid value:") and got[0].endswith(
        "minAvailable and maxUnavailable cannot be both set"
    )
    assert got[1] == 'spec.maxUnavailable: Invalid value: "150%": must not be greater than 100%'
    assert [str(c) for c in validate(PDBS, pdb(maxUnavailable=-1))] == [
        "spec.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"
    ]


def test_row() -> None:
    obj = pdb(minAvailable=2)
    obj["metadata"]["creationTimestamp"] = "2024-01-10T11:59:00Z"
    obj["status"] = {"disruptionsAllowed": 1}
    assert to_table(PDBS, [obj], now=NOW)["rows"][0]["cells"] == ["p", "2", "N/A", 1, "60s"]


@pytest.mark.parametrize(("value", "total", "want"), [(2, 10, 2), ("50%", 3, 2), ("34%", 3, 2), ("0%", 5, 0)])
def test_resolve_rounds_percentages_up(value, total, want) -> None:
    assert resolve(value, total) == want
