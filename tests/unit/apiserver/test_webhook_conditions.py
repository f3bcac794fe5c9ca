"""Webhook matchConditions: all true calls the webhook, a false one skips it, an error is raised."""

from __future__ import annotations

from typing import Any

import pytest

from kprov.cluster.apiserver.admission.webhook_conditions import ConditionError, conditions_admit
from kprov.cluster.apiserver.context import ApiContext


def _hook(*expressions: str) -> dict[str, Any]:
    conditions = [{"name": f"c{i}", "expression": e} for i, e in enumerate(expressions)]
    return {"name": "w", "matchConditions": conditions}


def test_conditions_on_the_object_and_the_request() -> None:
    ctx = ApiContext(None, None, None, None)  # type: ignore[arg-type]
    skip_me = {"metadata": {"name": "skip-me"}}
    request = {"operation": "CREATE", "userInfo": {"username": "alice"}}
    not_skip = "object.metadata.name != 'skip-me'"
    assert conditions_admit(ctx, {"name": "w"}, skip_me, None, request)
    assert not conditions_admit(ctx, _hook(not_skip), skip_me, None, request)
    assert conditions_admit(ctx, _hook(not_skip, "request.userInfo.username == 'alice'"),
                            {"metadata": {"name": "other"}}, None, request)
    with pytest.raises(ConditionError, match="failed to evaluate matchCondition 'c0'"):
        conditions_admit(ctx, _hook("object.spec.missing == 1"), skip_me, None, request)


def test_webhook_configurations_are_validated_with_their_conditions() -> None:
    from kprov.cluster.api.resources import REGISTRY
    from kprov.cluster.api.validation import core as validation

    info = REGISTRY.get("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations")
    assert info is not None
    good = {"name": "w.example.com", "sideEffects": "None", "admissionReviewVersions": ["v1"],
            "clientConfig": {"url": "https://example.com/"},
            "matchConditions": [{"name": "not-skip", "expression": "object.metadata.name != 'skip-me'"}]}
    config = {"metadata": {"name": "c"}, "webhooks": [good]}
    assert validation.validate(info, config) == []
    bad = {**good, "sideEffects": None, "matchConditions": [
        {"name": "x", "expression": "object.metadata.name != 'skip-me"},  # unterminated string
        {"name": "x", "expression": "nobody.knows"}]}
    causes = [str(c) for c in validation.validate(info, {"metadata": {"name": "c"}, "webhooks": [bad, good]})]
    conditions = "webhooks[0].matchConditions"
    assert any(c.startswith("webhooks[0].sideEffects: Required value") for c in causes), causes
    assert any(c.startswith(f"{conditions}[0].expression: Invalid value") for c in causes), causes
    assert any(c.startswith(f"{conditions}[1].name: Duplicate value") for c in causes), causes
    assert any("undeclared reference to 'nobody'" in c for c in causes), causes
    assert any(c.startswith("webhooks[1].name: Duplicate value") for c in causes), causes
