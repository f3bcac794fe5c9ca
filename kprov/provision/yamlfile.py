"""YAML loading that remembers where each mapping came from.

Mappings load as :class:`SourceDict` (a plain dict with an ``origin`` "file:line"), so task,
play and inventory errors can name the exact place. Syntax errors become
:class:`~kprov.provision.errors.YamlError` with file:line:column.

Bounded, because an inventory or vars file is read before anything is checked: a file over
:data:`MAX_FILE_BYTES` is refused unread; a document whose anchors, once every alias is
expanded, stand for more than :data:`MAX_EXPANDED_NODES` nodes (the "billion laughs": nine
aliases of nine aliases ...) is refused before it is constructed, naming the line of the
innermost collection that crosses the bound - PyYAML shares aliased objects, so loading
would be cheap, but every later walk (templating, JSON for a module, ``--json``) expands
it; an anchor aliased inside itself is refused (it never finishes expanding); and nesting
past Python's recursion limit is refused rather than crashing. The count
mirrors the API server's body decoding (kprov.cluster.api.wire.bounded_decode); the two
halves share no module by the layering rule, so each has its own twenty lines.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from kprov.provision.errors import FileTooLarge, YamlError

__all__ = [
    "MAX_EXPANDED_NODES", "MAX_FILE_BYTES", "EncryptedValue", "SourceDict", "UnsafeText", "load_yaml_file",
    "load_yaml_text", "origin_of", "read_bounded",
]

MAX_FILE_BYTES = 64 * 1024 * 1024  # a large generated inventory of 10,000 hosts is ~2 MiB
MAX_EXPANDED_NODES = 5_000_000  # every node of a 64 MiB file without aliases fits under it


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


class UnsafeText(str):
    """A string tagged ``!unsafe``: data, never templated (templates.is_template says no)."""

    __slots__ = ()


def _construct_unsafe(loader: _Loader, node: yaml.Node) -> Any:
    """``!unsafe`` as ansible-core reads it: the scalar's text (or every string inside a tagged
    sequence or mapping) is never templated."""
    if isinstance(node, yaml.ScalarNode):
        return UnsafeText(loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return [_unsafe(v) for v in loader.construct_sequence(node, deep=True)]
    return {k: _unsafe(v) for k, v in _construct_mapping(loader, node).items()}  # type: ignore[arg-type]


class EncryptedValue:
    """A ``!vault`` value: the ansible-vault envelope, decrypted only when templated (vault)."""

    __slots__ = ("envelope", "origin")

    def __init__(self, envelope: str, origin: str) -> None:
        self.envelope, self.origin = envelope, origin

    def __repr__(self) -> str:
        return f"<vault encrypted value from {self.origin}>"

    __str__ = __repr__


def _construct_vault(loader: _Loader, node: yaml.Node) -> EncryptedValue:
    text = loader.construct_scalar(node)  # type: ignore[arg-type]
    return EncryptedValue(str(text), f"{loader.source_name}:{node.start_mark.line + 1}")


def _unsafe(value: Any) -> Any:
    if isinstance(value, str):
        return UnsafeText(value)
    if isinstance(value, list):
        return [_unsafe(v) for v in value]
    if isinstance(value, dict):
        return {k: _unsafe(v) for k, v in value.items()}
    return value


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("!unsafe", _construct_unsafe)
_Loader.add_constructor("!vault", _construct_vault)


def _refusal(root: yaml.Node) -> tuple[yaml.Node, str] | None:
    """Where and why a composed document is refused, or None: the innermost collection whose
    alias-expanded size passes :data:`MAX_EXPANDED_NODES`, or one aliased inside itself
    (``&a [*a]``: it never finishes expanding). Post-order over the graph, each shared node
    sized once."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()  # entered, children not yet sized: the current path
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if children_done:
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            open_nodes.discard(id(node))
            if sizes[id(node)] > MAX_EXPANDED_NODES:
                return node, (f"its aliases expand to more than {MAX_EXPANDED_NODES:,} values (a YAML bomb?);"
                              " write the repeated values out or use fewer levels of anchors")
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            return node, "this anchor is aliased inside its own value, which never ends; remove that alias"
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return None


def load_yaml_text(text: str, source: str = "<string>") -> Any:
    loader_cls = type("_NamedLoader", (_Loader,), {"source_name": source})
    loader = loader_cls(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        refusal = _refusal(node)
        if refusal is not None:
            mark = refusal[0].start_mark
            raise YamlError(source, mark.line + 1, mark.column + 1, refusal[1])
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = " ".join(p for p in (err.context, err.problem) if p) or str(err)
        raise YamlError(source, line, col, problem) from None
    except yaml.YAMLError as err:
        raise YamlError(source, 0, 0, str(err)) from None
    except RecursionError:
        raise YamlError(source, 0, 0, "nested too deeply (past Python's recursion limit)") from None
    finally:
        loader.dispose()


def read_bounded(path: Path) -> str:
    """A file's text, refusing one over :data:`MAX_FILE_BYTES` unread (:class:`FileTooLarge`);
    OSError as ``open`` raises it."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise FileTooLarge(str(path), size, MAX_FILE_BYTES)
    return path.read_text(encoding="utf-8")


def load_yaml_file(path: Path | str, decrypt: Callable[[str, str], str] | None = None) -> Any:
    """A YAML file; one ansible-vault encrypted as a whole is decrypted first by ``decrypt``
    (vault.Vault.decrypt: text, where) or refused, naming the options that give the secret."""
    path = Path(path)
    try:
        text = read_bounded(path)
    except OSError as err:
        raise YamlError(str(path), 0, 0, f"cannot read: {err.strerror}") from None
    if text.lstrip().startswith("$ANSIBLE_VAULT;"):
        if decrypt is None:
            raise YamlError(str(path), 1, 1, "encrypted with Ansible Vault, and no vault secret was given "
                            "(--vault-password-file, --vault-id or --ask-vault-pass)")
        text = decrypt(text, f"{path}:1")  # the envelope starts the file
    return load_yaml_text(text, str(path))


def origin_of(value: Any, default: str = "<unknown>") -> str:
    return value.origin if isinstance(value, SourceDict) else default
