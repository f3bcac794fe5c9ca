"""Pure API machinery for the kprov API server: registry, schema, defaults, validation,
selectors, patches, protobuf decoding, tables and OpenAPI. No I/O; plain dicts in and out."""
