"""The provisioning engine: inventory, roles, connections, facts, modules, execution.

Never imports kprov.cluster.
"""
