"""Authentication: who a request is (client certificates, ServiceAccount and bootstrap tokens,
impersonation), the token endpoints and the issuer discovery documents.
"""
