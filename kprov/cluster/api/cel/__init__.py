"""CEL source analysis the ``cel`` binding does not offer: a parser keeping token positions
(:mod:`.parser`) and a schema-driven type check of field selections (:mod:`.typecheck`),
used by the ValidatingAdmissionPolicy status controller for ``status.typeChecking``."""
