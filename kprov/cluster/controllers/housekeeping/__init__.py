"""Cluster housekeeping: garbage collection by owner references, namespace deletion, node
lifecycle, disruption budgets' status and resource quota usage.
"""
