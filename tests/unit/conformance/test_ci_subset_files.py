"""The CI subset's two files agree: tests/conformance/ci-seconds.json (the seconds the e2e test
deals its shards by) names only specs of tests/conformance/ci-subset.txt and most of them, so a
spec left out of the subset leaves the figures too and a new one is not dealt blind for long."""

from __future__ import annotations

import json
from pathlib import Path

CONFORMANCE = Path(__file__).resolve().parents[2] / "conformance"


def test_the_seconds_file_names_the_subsets_specs() -> None:
    names = {line.strip() for line in (CONFORMANCE / "ci-subset.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")}
    seconds = json.loads((CONFORMANCE / "ci-seconds.json").read_text())
    assert set(seconds) <= names, sorted(set(seconds) - names)
    assert len(seconds) >= 0.9 * len(names), sorted(names - set(seconds))
    assert all(isinstance(v, int | float) and v >= 0 for v in seconds.values())


def test_the_shipped_seconds_name_the_conformance_specs_kprov_deals_by_default() -> None:
    """kprov conformance deals its shards by kprov/conformance/spec-seconds.json when given
    none: a readable file naming every conformance spec of the CI subset, with seconds."""
    from kprov.conformance.runner import SHIPPED_SPEC_SECONDS
    from kprov.conformance.specs import read_spec_seconds

    seconds = read_spec_seconds(SHIPPED_SPEC_SECONDS)
    names = {line.strip() for line in (CONFORMANCE / "ci-subset.txt").read_text().splitlines()
             if line.strip().endswith("[Conformance]") and not line.startswith("#")}
    assert names <= set(seconds), sorted(names - set(seconds))
    assert all(name.endswith("[Conformance]") for name in seconds)
    assert all(v > 0 for v in seconds.values())
