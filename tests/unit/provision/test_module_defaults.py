"""module_defaults merging as Ansible's get_action_args_with_defaults: outer entries first, an
inner entry's arguments for a module replace an outer one's whole, builtin short names and
FQCNs are one module, action groups are not read, and a bad entry is an error."""

from __future__ import annotations

import pytest

from kprov.provision.errors import ProvisionError
from kprov.provision.execute.task.module_defaults import defaults_for


def test_inner_entries_replace_a_module_s_arguments_whole() -> None:
    entries = [{"ansible.builtin.copy": {"mode": "0640", "owner": "a"}, "file": {"state": "directory"}},
               [{"copy": {"mode": "0600"}}]]
    assert defaults_for("copy", entries) == {"mode": "0600"}
    assert defaults_for("ansible.legacy.copy", entries) == {"mode": "0600"}
    assert defaults_for("ansible.builtin.file", entries) == {"state": "directory"}
    assert defaults_for("template", entries) == {}


def test_short_names_match_other_collections_and_groups_are_left_out() -> None:
    entries = [{"community.general.ufw": {"rule": "allow"}, "group/community.general.ufw": {"x": 1}}]
    assert defaults_for("ufw", entries) == {"rule": "allow"}
    assert defaults_for("community.general.ufw", [{"ufw": {"rule": "deny"}}]) == {"rule": "deny"}
    assert defaults_for("other.collection.ufw", entries) == {}


def test_an_entry_that_is_not_a_mapping_is_an_error() -> None:
    with pytest.raises(ProvisionError, match="module_defaults must be a mapping"):
        defaults_for("copy", ["copy"])
