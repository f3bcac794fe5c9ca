"""DefaultIngressClass: which class a new Ingress without one gets (pure part)."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.apiserver.admission.ingressclass import default_ingress_class


def _class(name: str, created: str, default: str | None) -> dict[str, Any]:
    annotations = {} if default is None else {"ingressclass.kubernetes.io/is-default-class": default}
    return {"metadata": {"name": name, "creationTimestamp": created, "annotations": annotations}}


@pytest.mark.parametrize("classes, chosen", [
    ([], None),
    ([_class("a", "2026-01-01T00:00:00Z", None)], None),
    ([_class("a", "2026-01-01T00:00:00Z", "false")], None),
    ([_class("a", "2026-01-01T00:00:00Z", "true"), _class("b", "2026-01-02T00:00:00Z", None)], "a"),
    ([_class("a", "2026-01-01T00:00:00Z", "True"), _class("b", "2026-01-02T00:00:00Z", "true")], "b"),
    # only exactly "true" makes a default, as upstream's plugin compares it
    ([_class("a", "2026-01-02T00:00:00Z", "True"), _class("b", "2026-01-01T00:00:00Z", "true")], "b"),
    ([_class("a", "2026-01-01T00:00:00Z", "TRUE")], None),
    # equal timestamps: the lower name, as upstream's admission plugin (e2e "should choose the one
    # with the later CreationTimestamp, if equal the one with the lower name")
    ([_class("b", "2026-01-01T00:00:00Z", "true"), _class("a", "2026-01-01T00:00:00Z", "true")], "a"),
    ([_class("a", "2026-01-01T00:00:00Z", "true"), _class("b", "2026-01-01T00:00:00Z", "true")], "a"),
    ([_class("a", "2026-01-01T00:00:00Z", "true"), _class("b", "2026-01-01T00:00:01Z", "true")], "b"),
])
def test_newest_default_wins(classes: list[dict[str, Any]], chosen: str | None) -> None:
    assert default_ingress_class(classes) == chosen
