"""Tasks the engine carries out itself, on variables and the inventory rather than on the host
(debug, set_fact, assert, fail, add_host, group_by, include_vars), and async jobs.
"""
