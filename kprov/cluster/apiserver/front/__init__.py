"""The API server's HTTP roof: HTTP/1.1 serving (and WebSocket/SPDY upgrades through aiohttp),
the request handler that authenticates, classifies and dispatches, health, metrics, the audit
log and TLS. The vocabulary requests are written in is :mod:`..request`, below.
"""
