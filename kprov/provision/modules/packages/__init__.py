"""Modules over Debian packages: apt (and package), package_facts.
"""
