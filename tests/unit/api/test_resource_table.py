"""The resource table is data (resources.yaml): its loader's defaults and its errors."""

from __future__ import annotations

import pytest

from kprov.cluster.api.resources import ALL_VERBS, REGISTRY, load_table

TABLE = """
- apiVersion: example.io/v2
  resources:
  - {name: widgets, kind: Widget, subresources: [status, scale, {name: log, kind: Widget, verbs: [get]}]}
  - {name: gadgets, kind: Gadget, namespaced: false, verbs: all-but-deletecollection,
     metadataFieldSelectors: false, fieldSelectors: [spec.size], listKind: GadgetCollection}
"""


def test_defaults_fill_what_a_line_leaves_out() -> None:
    widgets, gadgets = load_table(TABLE)
    assert (widgets.group, widgets.version, widgets.singular) == ("example.io", "v2", "widget")
    assert widgets.namespaced and widgets.verbs == ALL_VERBS and widgets.list_kind == "WidgetList"
    assert widgets.field_selectors == ("metadata.name", "metadata.namespace")
    status, scale, log = widgets.subresources
    assert (status.kind, status.group, status.verbs) == ("Widget", "example.io", ("get", "patch", "update"))
    assert (scale.kind, scale.group) == ("Scale", "autoscaling")
    assert log.verbs == ("get",)
    assert not gadgets.namespaced and "deletecollection" not in gadgets.verbs
    assert gadgets.field_selectors == ("spec.size",) and gadgets.list_kind == "GadgetCollection"


def test_an_unknown_subresource_shorthand_is_an_error_naming_the_resource() -> None:
    with pytest.raises(ValueError, match="statuss.* of w$"):
        load_table("- apiVersion: v1\n  resources:\n  - {name: w, kind: W, subresources: [statuss]}")


def test_the_served_table_keeps_discovery_order_and_the_core_group_first() -> None:
    names = [i.resource for i in REGISTRY]
    assert names[:3] == ["namespaces", "nodes", "pods"]
    assert REGISTRY.group_versions()[0] == ("", "v1")
    assert REGISTRY.get("apps", "v1", "deployments") is not None
    assert len(set(names)) >= 55
