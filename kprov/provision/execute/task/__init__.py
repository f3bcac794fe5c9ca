"""One task on one host: the runner (when, loop, args, retries, conditions), the module's
setup, loops, the reported result, environment and module defaults.
"""
