"""ReplicationController: the ReplicaSet controller's logic over v1 ReplicationControllers.

Design: as upstream (whose replication controller wraps the ReplicaSet controller), only the
kind and the selector differ: an RC's ``spec.selector`` is a plain label map (equality only),
not a LabelSelector object. Pods, expectations, adoption, deletion order and status are the
ReplicaSet controller's.
"""

from __future__ import annotations

from typing import ClassVar

from kprov.cluster.api.selectors import LabelSelector, label_selector_from_object
from kprov.cluster.client.resources import REPLICATION_CONTROLLERS, Resource
from kprov.cluster.controllers.base import Obj
from kprov.cluster.controllers.workloads.replicaset import ReplicaSetController

__all__ = ["ReplicationControllerController"]


class ReplicationControllerController(ReplicaSetController):
    name = "replicationcontroller"
    identity = "replication-controller"
    resource: ClassVar[Resource] = REPLICATION_CONTROLLERS

    def selector(self, rs: Obj) -> LabelSelector:
        return label_selector_from_object({"matchLabels": rs["spec"].get("selector") or {}})
