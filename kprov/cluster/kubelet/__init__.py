"""kprov-kubelet: runs the pods bound to its node through CRI v1 (containerd + runc).

Wings, one concept per module: ``cri/`` (proto, stubs, async client), ``pods/`` (one
:class:`~.pods.podworker.PodWorker` per pod and its managers: prober, status, terminator;
pod -> CRI configs, env, containers, probes, status), ``volumes/``, ``streaming/`` (logs,
exec, attach, port-forward), ``node/`` (Node registration and status, Lease, API access,
eviction); ``server.py`` (HTTPS :10250), ``kubelet.py`` (the process), ``__main__.py``
(flags).
"""
