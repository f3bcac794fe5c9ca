"""`kprov verify --cis`: the CIS Kubernetes Benchmark's controls that apply to kprov, checked
on every host and through the API (controls as data in :mod:`.controls_hosts` and
:mod:`.controls_cluster`, one pure engine in :mod:`.engine`, evidence read once per host in
:mod:`.host_evidence`). Implemented in the project; kube-bench is not run."""

from kprov.deploy.verify.cis.engine import CisReport
from kprov.deploy.verify.cis.model import Row, Status
from kprov.deploy.verify.cis.run import verify_cis

__all__ = ["CisReport", "Row", "Status", "verify_cis"]
