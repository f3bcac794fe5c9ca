"""The node itself: registration, status and lease heartbeat, the kubelet's use of the API,
resource stats, metrics and the readiness check.
"""
