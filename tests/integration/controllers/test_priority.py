"""PriorityClasses: the two system classes exist from start-up, a pod's priorityClassName
becomes spec.priority (Priority admission), an unknown class or a user class above the
system range is refused with upstream's wording."""

from __future__ import annotations

import pytest

from kprov.cluster.client import ApiClient, resources
from kprov.cluster.client.errors import ApiError
from tests.integration.controllers.hollow import ensure_namespace, simple_pod

NS = "prio"


async def test_priority_classes_and_admission(control_plane) -> None:  # type: ignore[no-untyped-def]
    async with ApiClient.from_kubeconfig(control_plane.admin_kubeconfig) as admin:
        system = await admin.get(resources.PRIORITY_CLASSES, "system-node-critical")
        assert system["value"] == 2000001000
        assert (await admin.get(resources.PRIORITY_CLASSES, "system-cluster-critical"))["value"] == 2000000000
        await admin.create(resources.PRIORITY_CLASSES, {"metadata": {"name": "high"}, "value": 1000})
        with pytest.raises(ApiError) as too_high:
            await admin.create(
                resources.PRIORITY_CLASSES, {"metadata": {"name": "huge"}, "value": 2000000000}
            )
        assert too_high.value.code == 422
        assert "maximum allowed value of a user defined priority is 1000000000" in too_high.value.message
        await ensure_namespace(admin, NS)
        pod = await admin.create(resources.PODS, simple_pod("vip", NS, priorityClassName="high"))
        assert (pod["spec"]["priority"], pod["spec"]["preemptionPolicy"]) == (1000, "PreemptLowerPriority")
        plain = await admin.create(resources.PODS, simple_pod("plain", NS))
        assert plain["spec"]["priority"] == 0
        with pytest.raises(ApiError) as unknown:
            await admin.create(resources.PODS, simple_pod("lost", NS, priorityClassName="nope"))
        assert unknown.value.code == 403
        assert unknown.value.message == 'pods "lost" is forbidden: no PriorityClass with name nope was found'
