"""Service networking controllers: Endpoints, EndpointSlices and their mirroring, LoadBalancer
addresses, and pod CIDRs for nodes.
"""
