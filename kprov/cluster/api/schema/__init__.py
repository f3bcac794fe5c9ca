"""The served kinds' schemas: known fields for strict validation, and the OpenAPI v2/v3
documents built from them.
"""
