"""The Gateway API in kprov-ingress: kprov's CRDs (``crds.yaml``, :mod:`.crds`), the pure
mapping of GatewayClasses, Gateways, HTTPRoutes and ReferenceGrants to routes and statuses
(:mod:`.routing`). The daemon (:mod:`kprov.cluster.ingress.daemon`) serves them in the same
HAProxy as the Ingresses. Design: docs/decisions/0045-gateway-api.md."""
