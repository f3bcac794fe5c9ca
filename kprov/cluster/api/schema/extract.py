"""Developer tool: extract field facts from the Kubernetes API Go types into schema_types.json.

Not imported at run time. It reads the `types.go` files of k8s.io/api and k8s.io/apimachinery
(a checkout or a bare git mirror at a tag) and records, per struct, only public facts: each
field's JSON name, protobuf field number, Go type shape, omitempty, and the patch/list
markers (patchStrategy, patchMergeKey, +listType, +listMapKey, +mapType, +default). The server's own code
(schema.py, protobuf.py, patch.py, openapi.py) interprets that table.

    python -m kprov.cluster.api.schema.extract API_GIT_DIR APIMACHINERY_GIT_DIR TAG > schema_types.json
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from typing import Any

__all__ = ["extract", "main"]

# package key -> (repo index, path of types.go files)
_PACKAGES: dict[str, tuple[int, tuple[str, ...]]] = {
    "meta": (1, ("pkg/apis/meta/v1/types.go",)),
    "core": (0, ("core/v1/types.go",)),
    "apps": (0, ("apps/v1/types.go",)),
    "coordination": (0, ("coordination/v1/types.go",)),
    "discovery": (0, ("discovery/v1/types.go",)),
    "events": (0, ("events/v1/types.go",)),
    "authentication": (0, ("authentication/v1/types.go",)),
    "authorization": (0, ("authorization/v1/types.go",)),
    "autoscaling": (0, ("autoscaling/v1/types.go",)),
    "autoscalingv2": (0, ("autoscaling/v2/types.go",)),
    "policy": (0, ("policy/v1/types.go",)),
    "rbac": (0, ("rbac/v1/types.go",)),
    "batch": (0, ("batch/v1/types.go",)),
    "storage": (0, ("storage/v1/types.go",)),
    "networking": (0, ("networking/v1/types.go",)),
    "scheduling": (0, ("scheduling/v1/types.go",)),
    "node": (0, ("node/v1/types.go",)),
    "admissionregistration": (0, ("admissionregistration/v1/types.go",)),
    "certificates": (0, ("certificates/v1/types.go",)),
    "flowcontrol": (0, ("flowcontrol/v1/types.go",)),
}
# Every struct of the API group packages is kept (kinds, their lists, their parts); of meta
# only what those reach plus the kinds the server answers with.
_META_ROOTS = (
    "meta.DeleteOptions",
    "meta.PartialObjectMetadata",
    "meta.PartialObjectMetadataList",
    "meta.Status",
    "meta.List",
    "meta.WatchEvent",
    "meta.APIResourceList",
    "meta.APIGroupList",
    "meta.APIVersions",
)
_IMPORT_TO_PACKAGE = {
    "k8s.io/api/core/v1": "core",
    "k8s.io/apimachinery/pkg/apis/meta/v1": "meta",
}
_SPECIAL = {
    "resource.Quantity": "Quantity",
    "intstr.IntOrString": "IntOrString",
    "metav1.Time": "Time",
    "metav1.MicroTime": "MicroTime",
    "Time": "Time",
    "MicroTime": "MicroTime",
    "runtime.RawExtension": "RawExtension",
    "FieldsV1": "FieldsV1",
    "metav1.FieldsV1": "FieldsV1",
    "metav1.Duration": "Duration",
    "Duration": "Duration",
    "types.UID": "string",
    # []string named types that protobuf carries as a message of `repeated string items = 1`
    "ExtraValue": "StringList",
    "Verbs": "StringList",
    "[]byte": "bytes",
    "string": "string",
    "int32": "int32",
    "int64": "int64",
    "bool": "bool",
    "float64": "float64",
    "int": "int64",
    "uint16": "int32",
    "uint32": "int32",
}
_FIELD = re.compile(r"^\s*(\w+)\s+([^`\s]+)\s+`([^`]*)`")
_EMBED = re.compile(r"^\s*([\w.]+)\s+`([^`]*)`")
_TAG = re.compile(r'(\w+):"([^"]*)"')


def _read(git_dir: str, tag: str, path: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", git_dir, "show", f"{tag}:{path}"], check=True, capture_output=True, text=True
    ).stdout


def _imports(source: str) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for alias, path in re.findall(r'^\s*(\w+)?\s*"([^"]+)"\s*$', source, re.M):
        package = _IMPORT_TO_PACKAGE.get(path)
        if package:
            aliases[alias or path.rsplit("/", 1)[-1]] = package
    return aliases


_Field = tuple[str, str, dict[str, str], list[str]]


def _structs(source: str) -> tuple[dict[str, list[_Field]], dict[str, str]]:
    structs: dict[str, list[_Field]] = {}
    aliases = dict(re.findall(r"^type (\w+) ((?:map\[\w+\])?[\w.]+)\s*$", source, re.M))
    current: str | None = None
    markers: list[str] = []
    for line in source.splitlines():
        start = re.match(r"^type (\w+) struct \{", line)
        if start:
            current, markers = start.group(1), []
            structs[current] = []
            continue
        if current is None:
            continue
        if line.startswith("}"):
            current = None
            continue
        stripped = line.strip()
        if stripped.startswith("// +"):
            markers.append(stripped[4:])  # "// +listType=map" -> "listType=map"
            continue
        if stripped.startswith("//") or not stripped:
            if not stripped:
                markers = []
            continue
        field = _FIELD.match(line)
        if field:
            tags = dict(_TAG.findall(field.group(3)))
            structs[current].append((field.group(1), field.group(2), tags, markers))
        else:
            embed = _EMBED.match(line)
            if embed:
                structs[current].append(("", embed.group(1), dict(_TAG.findall(embed.group(2))), markers))
        markers = []
    return structs, aliases


def _resolve(
    go_type: str,
    package: str,
    imports: dict[str, str],
    aliases: dict[str, dict[str, str]],
    structs: dict[str, set[str]],
) -> str:
    if go_type.startswith("*"):
        return "*" + _resolve(go_type[1:], package, imports, aliases, structs)
    if go_type in _SPECIAL:
        return _SPECIAL[go_type]
    if go_type.startswith("[]"):
        return "[]" + _resolve(go_type[2:], package, imports, aliases, structs)
    if go_type.startswith("map["):
        value = go_type[go_type.index("]") + 1 :]
        return "map[string]" + _resolve(value, package, imports, aliases, structs)
    if "." in go_type:
        prefix, name = go_type.split(".", 1)
        if prefix not in imports:
            return "any"
        package, go_type = imports[prefix], name
        if go_type in _SPECIAL:
            return _SPECIAL[go_type]
    if go_type in structs.get(package, set()):
        return f"{package}.{go_type}"
    alias = aliases.get(package, {}).get(go_type)
    if alias:
        return _resolve(alias, package, imports, aliases, structs)
    return "any"


def extract(api_git: str, machinery_git: str, tag: str) -> dict[str, Any]:
    sources = {}
    for package, (repo, paths) in _PACKAGES.items():
        git_dir = (api_git, machinery_git)[repo]
        sources[package] = "\n".join(_read(git_dir, tag, p) for p in paths)
    parsed = {p: _structs(s) for p, s in sources.items()}
    struct_names = {p: set(v[0]) for p, v in parsed.items()}
    alias_map = {p: v[1] for p, v in parsed.items()}
    types: dict[str, dict[str, Any]] = {}
    for package, (structs, _aliases) in parsed.items():
        imports = _imports(sources[package])
        for name, fields in structs.items():
            out: dict[str, Any] = {}
            for go_name, go_type, tags, markers in fields:
                json_tag = tags.get("json", "")
                json_name, _, options = json_tag.partition(",")
                if json_name == "-":
                    continue
                spec: dict[str, Any] = {"t": _resolve(go_type, package, imports, alias_map, struct_names)}
                proto = tags.get("protobuf", "").split(",")
                if len(proto) > 1 and proto[1].isdigit():
                    spec["p"] = int(proto[1])
                if "omitempty" in options:
                    spec["o"] = 1
                if "inline" in options:
                    spec["inline"] = 1
                    json_name = "$inline:" + (go_name or go_type.rsplit(".", 1)[-1])
                if tags.get("patchStrategy"):
                    spec["s"] = tags["patchStrategy"]
                if tags.get("patchMergeKey"):
                    spec["k"] = tags["patchMergeKey"]
                for marker in markers:
                    key, _, value = marker.partition("=")
                    if key == "listType":
                        spec["lt"] = value
                    elif key == "listMapKey":
                        spec.setdefault("lk", []).append(value)
                    elif key == "mapType":
                        spec["mt"] = value
                    elif key == "default":
                        # a JSON literal ("TCP", false, 0); a ref(...) to a Go constant is not kept
                        with contextlib.suppress(ValueError):
                            spec["d"] = json.loads(value)
                out[json_name] = spec
            types[f"{package}.{name}"] = out
    roots = [name for name in types if not name.startswith("meta.")] + list(_META_ROOTS)
    return {"source": f"k8s.io/api and k8s.io/apimachinery {tag}", "types": _reachable(types, roots)}


def _reachable(types: dict[str, dict[str, Any]], roots: list[str]) -> dict[str, dict[str, Any]]:
    keep: dict[str, dict[str, Any]] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in keep or name not in types:
            continue
        keep[name] = types[name]
        for spec in types[name].values():
            pending.append(spec["t"].lstrip("*[]").removeprefix("map[string]").lstrip("*[]"))
    return dict(sorted(keep.items()))


def main() -> None:
    api_git, machinery_git, tag = sys.argv[1:4]
    table = extract(api_git, machinery_git, tag)
    lines = [f'{{"source": {json.dumps(table["source"])}, "types": {{']
    entries = [
        f"  {json.dumps(name)}: {json.dumps(fields, sort_keys=True)}"
        for name, fields in table["types"].items()
    ]
    lines.append(",\n".join(entries))
    lines.append("}}")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
