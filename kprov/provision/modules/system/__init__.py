"""Modules over the host's system settings: users and groups, getent, sysctl, kernel modules,
mounts, the timezone, locales, PAM, SSH keys and htpasswd files.
"""
