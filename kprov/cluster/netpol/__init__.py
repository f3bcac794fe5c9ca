"""NetworkPolicy enforcement on each node: a pure compiler to nftables, and its agent."""
