"""Identity controllers: default ServiceAccounts, legacy token Secrets, the root CA ConfigMap in
every namespace, and ClusterRole aggregation.
"""
