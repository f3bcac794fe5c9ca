"""CEL in the API server: the one environment (:mod:`.environment`: the cel-cpp runtime plus
Kubernetes' libraries, ``lib_*``) every CRD rule, policy and match condition compiles in, and
source analysis it does not offer: a parser keeping token positions (:mod:`.parser`), a
schema-driven type check of field selections (:mod:`.typecheck`, for the
ValidatingAdmissionPolicy status controller's ``status.typeChecking``) and cost estimates."""
