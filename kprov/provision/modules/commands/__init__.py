"""Modules that run things: command, shell, wait_for, ping, setup (facts), and detached
(async) runs.
"""
