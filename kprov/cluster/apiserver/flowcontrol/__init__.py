"""API Priority and Fairness (flowcontrol.apiserver.k8s.io/v1).

:mod:`.bootstrap_objects` holds the mandatory and suggested FlowSchemas and
PriorityLevelConfigurations; :mod:`.config_producer` creates and maintains them at server
start as kube-apiserver's configuration producer does; :mod:`.classifier`,
:mod:`.queueing` and :mod:`.controller` classify each request and give it a seat or a 429;
:mod:`.debug_dump` prints their live state for the ``/debug/api_priority_and_fairness/`` paths.
"""

from kprov.cluster.apiserver.flowcontrol.config_producer import ensure_bootstrap_objects
from kprov.cluster.apiserver.flowcontrol.controller import Controller, bypasses

__all__ = ["Controller", "bypasses", "ensure_bootstrap_objects"]
