"""Streams the kubelet serves to the API server: exec, attach, port-forward (SPDY and WebSocket)
and container logs.
"""
