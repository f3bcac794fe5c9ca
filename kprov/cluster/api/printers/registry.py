"""Which Table printer each kind uses (kinds not listed print NAME and AGE)."""

from __future__ import annotations

from types import MappingProxyType

from kprov.cluster.api.kinds.apiregistration import PRINTER as APISERVICE
from kprov.cluster.api.printers.admission import VALIDATINGADMISSIONPOLICY, VALIDATINGADMISSIONPOLICYBINDING
from kprov.cluster.api.printers.batch import CRONJOB, JOB
from kprov.cluster.api.printers.columns import Column, Printer, default_printer
from kprov.cluster.api.printers.config import CONFIGMAP, EVENT, LEASE, SECRET, SERVICEACCOUNT
from kprov.cluster.api.printers.custom import CUSTOMRESOURCEDEFINITION
from kprov.cluster.api.printers.flowcontrol import FLOWSCHEMA, PRIORITYLEVELCONFIGURATION
from kprov.cluster.api.printers.ingress import INGRESS, INGRESSCLASS
from kprov.cluster.api.printers.legacy import COMPONENTSTATUS, PODTEMPLATE, REPLICATIONCONTROLLER
from kprov.cluster.api.printers.pods import NAMESPACE, NODE, POD
from kprov.cluster.api.printers.policy import (
    HORIZONTALPODAUTOSCALER,
    LIMITRANGE,
    PODDISRUPTIONBUDGET,
    PRIORITYCLASS,
    RESOURCEQUOTA,
    RUNTIMECLASS,
)
from kprov.cluster.api.printers.rbac import BINDING, ROLE
from kprov.cluster.api.printers.services import ENDPOINTS, ENDPOINTSLICE, NETWORKPOLICY, SERVICE
from kprov.cluster.api.printers.storage import (
    CSIDRIVER,
    PERSISTENTVOLUME,
    PERSISTENTVOLUMECLAIM,
    STORAGECLASS,
    VOLUMEATTACHMENT,
)
from kprov.cluster.api.printers.workloads import (
    CONTROLLERREVISION,
    DAEMONSET,
    DEPLOYMENT,
    REPLICASET,
    STATEFULSET,
)

__all__ = ["PRINTERS", "Column", "Printer", "default_printer"]

PRINTERS = MappingProxyType(
    {
        ("", "Pod"): POD,
        ("", "Node"): NODE,
        ("", "Namespace"): NAMESPACE,
        ("", "Service"): SERVICE,
        ("", "Endpoints"): ENDPOINTS,
        ("", "ConfigMap"): CONFIGMAP,
        ("", "Secret"): SECRET,
        ("", "ServiceAccount"): SERVICEACCOUNT,
        ("", "Event"): EVENT,
        ("", "ReplicationController"): REPLICATIONCONTROLLER,
        ("", "PodTemplate"): PODTEMPLATE,
        ("", "PersistentVolume"): PERSISTENTVOLUME,
        ("", "PersistentVolumeClaim"): PERSISTENTVOLUMECLAIM,
        ("storage.k8s.io", "StorageClass"): STORAGECLASS,
        ("storage.k8s.io", "CSIDriver"): CSIDRIVER,
        ("storage.k8s.io", "VolumeAttachment"): VOLUMEATTACHMENT,
        ("", "ComponentStatus"): COMPONENTSTATUS,
        ("events.k8s.io", "Event"): EVENT,
        ("apps", "Deployment"): DEPLOYMENT,
        ("apps", "ReplicaSet"): REPLICASET,
        ("apps", "StatefulSet"): STATEFULSET,
        ("apps", "DaemonSet"): DAEMONSET,
        ("apps", "ControllerRevision"): CONTROLLERREVISION,
        ("batch", "Job"): JOB,
        ("batch", "CronJob"): CRONJOB,
        ("policy", "PodDisruptionBudget"): PODDISRUPTIONBUDGET,
        ("autoscaling", "HorizontalPodAutoscaler"): HORIZONTALPODAUTOSCALER,
        ("", "ResourceQuota"): RESOURCEQUOTA,
        ("", "LimitRange"): LIMITRANGE,
        ("scheduling.k8s.io", "PriorityClass"): PRIORITYCLASS,
        ("node.k8s.io", "RuntimeClass"): RUNTIMECLASS,
        ("coordination.k8s.io", "Lease"): LEASE,
        ("discovery.k8s.io", "EndpointSlice"): ENDPOINTSLICE,
        ("networking.k8s.io", "NetworkPolicy"): NETWORKPOLICY,
        ("networking.k8s.io", "Ingress"): INGRESS,
        ("networking.k8s.io", "IngressClass"): INGRESSCLASS,
        ("apiextensions.k8s.io", "CustomResourceDefinition"): CUSTOMRESOURCEDEFINITION,
        ("apiregistration.k8s.io", "APIService"): APISERVICE,
        ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"): VALIDATINGADMISSIONPOLICY,
        (
            "admissionregistration.k8s.io",
            "ValidatingAdmissionPolicyBinding",
        ): VALIDATINGADMISSIONPOLICYBINDING,
        ("flowcontrol.apiserver.k8s.io", "FlowSchema"): FLOWSCHEMA,
        ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"): PRIORITYLEVELCONFIGURATION,
        ("rbac.authorization.k8s.io", "Role"): ROLE,
        ("rbac.authorization.k8s.io", "ClusterRole"): ROLE,
        ("rbac.authorization.k8s.io", "RoleBinding"): BINDING,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"): BINDING,
    }
)
