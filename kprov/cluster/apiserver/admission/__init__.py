"""Admission: the built-in plugins run around every write (namespace lifecycle, ServiceAccount,
LimitRanger, ResourceQuota, RuntimeClass, storage, Priority, Pod Security), then
ValidatingAdmissionPolicies and the admission webhooks.
"""
