"""kprov-metrics-server: the resource metrics API (metrics.k8s.io/v1beta1: NodeMetrics,
PodMetrics) as its own component behind an APIService, the shape of metrics-server.

Flow: ``kubectl top`` -> API server (authn, RBAC) -> aggregator proxy (front-proxy client
certificate, X-Remote-User/-Group) -> this server (:mod:`.server`: request-header
authentication against the published front-proxy CA, SubjectAccessReview authorization)
-> every kubelet's /stats/summary (:mod:`.scrape`) -> NodeMetrics/PodMetrics
(:mod:`.objects`). It publishes its own Service endpoint and the APIService
(:mod:`.register`).
"""
