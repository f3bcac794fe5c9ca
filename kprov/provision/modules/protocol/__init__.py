"""Ansible's module protocol: the fallback for modules kprov does not implement natively.

A task whose module is not one of kprov's own (``modules.registry``) but is found where
ansible-core would find it — a role's or the playbook's ``library/``, ansible-core's own
``ansible.modules`` or an installed collection (``locate``) — is packed as ansible-core
packs it (``pack``: a new-style Python module with the ``module_utils`` it imports, or a
WANT_JSON/old-style module with its arguments file), sent over the host's existing
connection in one command and run by the host's interpreter (``remote``), and its JSON
answer is read as ansible-core reads it (``answer``). ``module.ProtocolModule`` ties them
into kprov's module contract. kprov's built-in modules stay the fast path; this one is
never a second implementation of them.
"""
