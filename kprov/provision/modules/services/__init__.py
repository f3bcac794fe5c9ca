"""Modules over systemd services: systemd_service (and systemd, service), service_facts.
"""
