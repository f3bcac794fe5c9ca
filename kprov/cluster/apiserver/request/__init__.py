"""The API server's request vocabulary: the request as the API reads it, what its URL asks
for, content negotiation, Status errors and warnings; below the HTTP front that serves it
(:mod:`..front`) and everything that handles it.
"""
