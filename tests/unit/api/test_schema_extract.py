"""The Go-types extractor records a field's list markers (+listType, +listMapKey, +mapType)."""

from __future__ import annotations

from kprov.cluster.api.schema.extract import _structs

SOURCE = '''
type ServiceSpec struct {
	// The list of ports that are exposed by this service.
	// +patchMergeKey=port
	// +patchStrategy=merge
	// +listType=map
	// +listMapKey=port
	// +listMapKey=protocol
	Ports []ServicePort `json:"ports,omitempty" patchStrategy:"merge" patchMergeKey:"port"`

	// +optional
	Selector map[string]string `json:"selector,omitempty" protobuf:"bytes,2,rep,name=selector"`
}
'''


def test_list_markers_reach_the_field() -> None:
    structs, _ = _structs(SOURCE)
    (ports, selector) = structs["ServiceSpec"]
    assert ports[0] == "Ports" and "listType=map" in ports[3]
    assert [m for m in ports[3] if m.startswith("listMapKey=")] == ["listMapKey=port", "listMapKey=protocol"]
    assert selector[3] == ["optional"]


def test_default_markers_are_kept_with_the_field() -> None:
    structs, _ = _structs('type ServicePort struct {\n\t// +default="TCP"\n\t// +optional\n'
                          '\tProtocol Protocol `json:"protocol,omitempty"`\n}\n')
    assert structs["ServicePort"][0][3] == ['default="TCP"', "optional"]
