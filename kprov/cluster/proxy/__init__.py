"""kprov-proxy: Services + EndpointSlices -> one nftables table per node and address family.

- servicemap.py: API objects -> service ports (pure)
- rules.py: service ports + node settings -> ruleset model (pure), incremental compiler
- nft.py: ruleset -> ``nft -f`` script (full or delta), applier
- tracker.py: informer-fed store with per-service dirty tracking
- families.py: which families a node proxies; one compiler + applier (table) per family
"""
