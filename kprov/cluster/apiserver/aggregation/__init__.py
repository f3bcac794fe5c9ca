"""API aggregation and extension: APIServices answered by other servers (discovery, proxy,
autoregistration), and custom resources' version conversion (the reconcilers that serve
CRDs and register APIServices are :mod:`..reconcilers`, above the handlers they write through).
"""
