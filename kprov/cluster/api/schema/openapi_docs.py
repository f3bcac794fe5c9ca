"""Field descriptions for the OpenAPI documents' most-read schemas (kprov's own wording).

Design: the schema extracted from the upstream Go types (schema_types.json) carries field
names and types, not documentation; `kubectl explain <kind>.metadata` then prints fields
without text. ObjectMeta is part of every kind (built-in and custom), so its fields are
described here, in short sentences of our own, as are the HPA behavior rules (`kubectl explain
hpa.spec.behavior`); other kinds' own fields stay undescribed until
there is a reason. Each description of a field starts with the field's name, as the
upstream documentation's do (clients such as the conformance suite match on that).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["FIELD_DESCRIPTIONS"]

FIELD_DESCRIPTIONS: Mapping[str, Mapping[str, str]] = {
    "meta.ObjectMeta": {
        "annotations": "Annotations is a map of string keys and values that tools and users attach to "
        "the object to keep arbitrary, non-identifying data. Not queryable.",
        "creationTimestamp": "CreationTimestamp is a timestamp of when the server created this object "
        "(RFC 3339, UTC). Set by the server; clients cannot set it.",
        "deletionGracePeriodSeconds": "DeletionGracePeriodSeconds is how many seconds the object has "
        "to terminate gracefully once deletionTimestamp is set. Set by the server.",
        "deletionTimestamp": "DeletionTimestamp is the time (RFC 3339) after which the server will "
        "remove this object; set when a graceful deletion was requested. Read-only.",
        "finalizers": "Finalizers must be empty before the object is removed from storage; each "
        "entry names a controller that still has cleanup to do.",
        "generateName": "GenerateName is a prefix the server completes with a random suffix to make "
        "a unique name, used when name is empty on create.",
        "generation": "Generation is a sequence number of the desired state, bumped by the server "
        "when the spec changes. Read-only.",
        "labels": "Labels is a map of string keys and values used to organize and select objects "
        "(label selectors of services, controllers and queries).",
        "managedFields": "ManagedFields records which field manager (client) set which fields and "
        "how (apply or update); maintained by the server for server-side apply.",
        "name": "Name is unique within a namespace (or the cluster, for cluster-scoped kinds). "
        "Required on create unless generateName is set; cannot be updated.",
        "namespace": "Namespace is the namespace the object lives in; empty for cluster-scoped "
        "kinds. Cannot be updated.",
        "ownerReferences": "OwnerReferences lists the objects this one depends on; when all owners "
        "are gone the garbage collector removes it.",
        "resourceVersion": "ResourceVersion is an opaque value naming this version of the object, "
        "for optimistic concurrency and watches. Set by the server.",
        "selfLink": "SelfLink is deprecated and no longer set by the server.",
        "uid": "UID is unique in time and space for this object, set by the server on create. Read-only.",
    },
    "autoscalingv2.HorizontalPodAutoscalerBehavior": {
        "scaleDown": "scaleDown is the rule set for shrinking the target: a stabilization window "
        "(default: the controller manager's, 300 s) and policies (default: up to 100 % of the pods "
        "per 15 s).",
        "scaleUp": "scaleUp is the rule set for growing the target: a stabilization window (default 0) "
        "and policies (default: the larger of 4 pods and 100 % per 15 s).",
    },
    "autoscalingv2.HPAScalingRules": {
        "policies": "policies limit how much the replica count may change within each policy's "
        "period; at least one is needed.",
        "selectPolicy": "selectPolicy picks which policy applies when several do: Max (the largest "
        "change, default), Min (the smallest) or Disabled (no change in this direction).",
        "stabilizationWindowSeconds": "stabilizationWindowSeconds is how far back (0..3600 s) past "
        "recommendations are taken into account, so the count does not flap.",
    },
    "autoscalingv2.HPAScalingPolicy": {
        "periodSeconds": "periodSeconds is the window (1..1800 s) over which the policy's limit holds.",
        "type": "type is Pods (a number of pods) or Percent (a percentage of the current pods).",
        "value": "value is the amount of change the policy allows per period; greater than zero.",
    },
}
