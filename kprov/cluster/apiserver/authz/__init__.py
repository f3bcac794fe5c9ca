"""Authorization: the Node -> RBAC chain, RBAC's index and rule logic, escalation checks, access
reviews, and the bootstrap policy every cluster starts with.
"""
