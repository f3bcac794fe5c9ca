"""Pod network plumbing run on each node by kprov-proxy.

- cni.py: the node's CNI conflist (bridge + host-local IPAM + portmap + loopback), rendered
  from Node.spec.podCIDR as the controller manager allocated it.
- routes.py: routes to every other node's pod CIDR (plain routes on a shared L2 segment,
  a vxlan device with FDB entries otherwise), planned as pure data and applied with ip(8).
"""
