"""API aggregation and extension: APIServices answered by other servers (discovery, proxy,
autoregistration), and custom resources served from their CRDs, with version conversion.
"""
