"""Server-side printing: meta.k8s.io/v1 Tables, one module of printers per API area.
"""
