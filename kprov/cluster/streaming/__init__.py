"""Streaming protocols shared by the API server and the kubelet (SPDY/3.1 framing)."""
