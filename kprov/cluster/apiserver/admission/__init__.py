"""Admission: the built-in plugins run around every write (namespace lifecycle, ServiceAccount,
LimitRanger, ResourceQuota, RuntimeClass, storage, Priority, Pod Security, the CSR signer
checks), then ValidatingAdmissionPolicies and the admission webhooks.
"""
