"""Reading a host's state ahead of its tasks: the probes each module declares, merged into one
round trip per host, file probes in one python3 process, and the run's probe cache.
"""
