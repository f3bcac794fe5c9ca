"""kprov-controller-manager: one reconciler per module, the shared informers (informers.py),
the common base (base.py) and the manager that runs the enabled ones (manager.py)."""

from kprov.cluster.controllers.manager import CONTROLLERS, ControllerManager

__all__ = ["CONTROLLERS", "ControllerManager"]
