"""The Ingress controller: Ingresses → HAProxy's configuration, served on each node.

:mod:`.routes` (which Ingresses, in which order), :mod:`.endpoints` (pod addresses from
EndpointSlices) and :mod:`.haproxy_config` (the text) are pure; :mod:`.certs`,
:mod:`.haproxy` and :mod:`.daemon` do the I/O. Design: docs/decisions/0036-ingress-controller.md.
"""

__all__: list[str] = []
