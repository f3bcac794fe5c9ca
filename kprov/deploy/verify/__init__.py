"""`kprov verify`: is the cluster what the inventory says it should be?

Per-host checks run through testinfra (units active and enabled, ports listening,
certificates valid and not near expiry, config files as rendered); cluster checks run
through the API and etcd (quorum and leader, every API server ready, every node Ready, a
smoke Deployment answering through a ClusterIP Service and a NodePort). Each check is one
row of a report; any failure makes the command exit non-zero.
"""

from kprov.deploy.verify.report import Check, VerifyReport
from kprov.deploy.verify.run import verify_cluster

__all__ = ["Check", "VerifyReport", "verify_cluster"]
