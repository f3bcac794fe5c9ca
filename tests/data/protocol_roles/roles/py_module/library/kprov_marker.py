#!/usr/bin/python
# A new-style Ansible module, as roles ship them in library/: writes a marker file.
from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes


def main() -> None:
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            content=dict(type="str", required=True),
            marker_code=dict(type="str", no_log=True),
        ),
        supports_check_mode=True,
    )
    path, content = module.params["path"], module.params["content"]
    before = None
    if os.path.exists(path):
        with open(path, "rb") as handle:
            before = handle.read().decode()
    changed = before != content
    if changed and not module.check_mode:
        with open(path, "wb") as handle:
            handle.write(to_bytes(content))
    if changed:
        module.warn(f"marker {path} rewritten")
    module.exit_json(changed=changed, path=path, diff=dict(before=before or "", after=content),
                     ansible_facts=dict(kprov_marker_path=path))


if __name__ == "__main__":
    main()
