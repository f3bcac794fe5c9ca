"""The serving TLS context: our certificate, and client certificates verified against the
client CA when presented (optional, so that anonymous requests reach the 401 logic)."""

from __future__ import annotations

import ssl

__all__ = ["server_ssl_context"]


def server_ssl_context(cert_file: str, key_file: str, client_ca_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    if client_ca_file:
        context.load_verify_locations(cafile=client_ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
