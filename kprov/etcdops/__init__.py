"""kprov.etcdops: operating the etcd cluster that roles/etcd installs.

Everything runs etcdctl (``kprov-etcdctl``, installed by the role, with the admin client
certificate) on a member over the engine's SSH connectors, so the operator machine needs
only SSH to the hosts.

- :mod:`~kprov.etcdops.quorum`: membership planning (pure): odd sizes only, never below
  quorum, one member at a time;
- :mod:`~kprov.etcdops.etcdctl`: etcdctl commands and their parsed JSON output;
- :mod:`~kprov.etcdops.cluster`: the inventory's members, an anchor member, the live view;
- :mod:`~kprov.etcdops.members`: growing/shrinking to the inventory's ``etcd`` group;
- :mod:`~kprov.etcdops.snapshots`: backup to the operator machine and whole-cluster restore;
- :mod:`~kprov.etcdops.defrag`: defragmenting every member, one at a time, the leader last;
- :mod:`~kprov.etcdops.provision`: running roles/etcd on a joining member through the engine.

CLI: ``kprov etcd status|backup|restore|members|defrag -i INVENTORY``.
"""

from kprov.etcdops.quorum import LiveMember, MembershipError, MembershipPlan, Step, plan_membership, quorum

__all__ = ["LiveMember", "MembershipError", "MembershipPlan", "Step", "plan_membership", "quorum"]
