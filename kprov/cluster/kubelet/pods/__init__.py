"""The kubelet's pod side: one worker per pod, and what a worker computes for it (CRI configs,
environment, security contexts, probes, hooks, status, admission, back-off).
"""
