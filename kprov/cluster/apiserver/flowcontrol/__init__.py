"""API Priority and Fairness (flowcontrol.apiserver.k8s.io/v1).

:mod:`.bootstrap_objects` holds the mandatory and suggested FlowSchemas and
PriorityLevelConfigurations; :mod:`.config_producer` creates and maintains them at server
start as kube-apiserver's configuration producer does.
"""

from kprov.cluster.apiserver.flowcontrol.config_producer import ensure_bootstrap_objects

__all__ = ["ensure_bootstrap_objects"]
