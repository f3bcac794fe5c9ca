"""nftables as data (:mod:`.ruleset`) and its one-transaction applier (:mod:`.apply`), shared by
kube-proxy and the NetworkPolicy agent."""
