"""The API server's front: HTTP/1.1 and HTTP/2 serving, content negotiation, what a URL asks for,
Status errors, warnings, health, metrics and the audit log.
"""
