"""YAML loading that remembers where each mapping came from.

Mappings load as :class:`SourceDict` (a plain dict with an ``origin`` "file:line"), so task,
play and inventory errors can name the exact place. Syntax errors become
:class:`~kprov.provision.errors.YamlError` with file:line:column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kprov.provision.errors import YamlError

__all__ = ["SourceDict", "load_yaml_file", "load_yaml_text", "origin_of"]


class SourceDict(dict):  # type: ignore[type-arg]
    """A dict that knows the file:line it was read from."""

    origin: str = "<unknown>"


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in: ~10x faster


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    source_name = "<string>"


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> SourceDict:
    loader.flatten_mapping(node)
    result = SourceDict()
    result.origin = f"{loader.source_name}:{node.start_mark.line + 1}"
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


def _construct_unsafe(loader: _Loader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("!unsafe", _construct_unsafe)


def load_yaml_text(text: str, source: str = "<string>") -> Any:
    loader_cls = type("_NamedLoader", (_Loader,), {"source_name": source})
    try:
        return yaml.load(text, Loader=loader_cls)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = " ".join(p for p in (err.context, err.problem) if p) or str(err)
        raise YamlError(source, line, col, problem) from None
    except yaml.YAMLError as err:
        raise YamlError(source, 0, 0, str(err)) from None


def load_yaml_file(path: Path | str) -> Any:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise YamlError(str(path), 0, 0, f"cannot read: {err.strerror}") from None
    return load_yaml_text(text, str(path))


def origin_of(value: Any, default: str = "<unknown>") -> str:
    return value.origin if isinstance(value, SourceDict) else default
