"""CustomResourceDefinitions: what a CRD means, structural schemas (pruning, defaulting,
validation), CEL rules and the custom resources' OpenAPI.
"""
