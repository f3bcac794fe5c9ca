"""Workload controllers: Deployments (through ReplicaSets), ReplicaSets and ReplicationControllers,
StatefulSets, DaemonSets, Jobs and CronJobs, with what they share about pods and revisions.
"""
