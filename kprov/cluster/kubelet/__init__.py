"""kprov-kubelet: runs the pods bound to its node through CRI v1 (containerd + runc).

Modules, one concept each: cri/ (proto, stubs, async client), podconfig (pod -> CRI
configs), env, volumes, resources, containers (start one container), podworker (per-pod
sync and termination), status (pod status), probes, backoff, logs, channels + execsession
(exec over websocket), server (HTTPS :10250), node (Node, NodeStatus, Lease), apiaccess
(API calls), kubelet (the process), __main__ (flags).
"""
