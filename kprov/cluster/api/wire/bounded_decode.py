"""Decoding request bodies within bounds: nesting depth and YAML alias expansion.

A body that decodes fine may still be a bomb: a YAML document whose anchors are aliased
nine times per level expands to billions of nodes once walked (CVE-2019-11253 for
kube-apiserver, fixed in go-yaml v2 by refusing "excessive aliasing"), and a value nested
deeper than the server's encoder can write (orjson stops at 255 levels) fails far from
where it came in. Both are refused here, where the body is decoded, as 400s.

- :func:`check_depth` refuses values nested deeper than :data:`MAX_DEPTH` with the words of
  Go's encoding/json ("exceeded max depth"); the walk runs only when the body holds that many
  brackets at all, so ordinary bodies cost one ``bytes.count`` pair.
- :func:`load_yaml` composes the YAML node graph (aliases are shared nodes, so composing is
  cheap), counts the nodes the document expands to with shared subgraphs counted once per
  use, and refuses more than :data:`MAX_YAML_NODES` ("yaml: document contains excessive
  aliasing", go-yaml's words); an anchor aliased inside itself (``&a [*a]``: a cycle, which
  the count would never finish) is refused as go-yaml refuses it; YAML nested past Python's
  recursion limit is refused as "yaml: exceeded max depth". A body that is JSON (a YAML
  document too) is read as JSON: PyYAML refuses a tab that starts a line even inside a flow
  mapping, where go-yaml takes it: in a document that is one flow collection, where
  indentation means nothing, the tabs that start lines are read as spaces, so tab-indented
  JSON-like apply patches (Go clients', trailing commas included) decode as in kube-apiserver.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import yaml

__all__ = ["MAX_DEPTH", "MAX_YAML_NODES", "BodyTooDeep", "check_depth", "load_yaml"]

MAX_DEPTH = 250  # orjson encodes at most 254 nested levels; room for the object's own frame
MAX_YAML_NODES = 1_000_000  # a 3 MiB body holds fewer plain nodes than this


class BodyTooDeep(ValueError):
    """A decoded body nested deeper than the server handles."""


def check_depth(value: Any, body: bytes | str) -> None:
    """Raise :class:`BodyTooDeep` when ``value`` nests more than :data:`MAX_DEPTH` levels."""
    opening = (b"[", b"{") if isinstance(body, bytes) else ("[", "{")
    if body.count(opening[0]) + body.count(opening[1]) <= MAX_DEPTH:  # type: ignore[arg-type]
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BodyTooDeep("exceeded max depth")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


class _AnchorKeepingLoader(yaml.SafeLoader):
    """SafeLoader that keeps the document's anchors (name -> node) after composing it, so a
    recursive one can be named; PyYAML forgets them when the document ends."""

    kept_anchors: dict[str, yaml.Node]

    def compose_document(self) -> yaml.Node | None:
        self.get_event()  # DOCUMENT-START
        node = self.compose_node(None, None)  # type: ignore[arg-type]
        self.get_event()  # DOCUMENT-END
        self.kept_anchors, self.anchors = self.anchors, {}
        return node


def _expanded_size(root: yaml.Node, anchors: dict[str, yaml.Node]) -> int:
    """Nodes the graph stands for once every alias is expanded (post-order, memoized). An
    alias inside its own anchor (``&a [*a]``, a cycle: it never finishes expanding) is
    refused with go-yaml's words."""
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
            sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in children), MAX_YAML_NODES + 1)
            open_nodes.discard(id(node))
            continue
        if id(node) in sizes:
            continue
        if id(node) in open_nodes:
            name = next((n for n, anchored in anchors.items() if anchored is node), "")
            raise yaml.YAMLError(f"yaml: anchor '{name}' value contains itself")
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


_LINE_START_TABS = re.compile(r"^[ \t]+", re.MULTILINE)


def load_yaml(body: bytes | str) -> Any:
    """One YAML document as plain data (SafeLoader), refusing bombs with ``yaml.YAMLError``."""
    if body.lstrip()[:1] in ("{", b"{", "[", b"["):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:  # a YAML flow collection that is not JSON
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            body = _LINE_START_TABS.sub(lambda m: " " * len(m.group()), text)
    loader = _AnchorKeepingLoader(body)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, loader.kept_anchors) > MAX_YAML_NODES:
            raise yaml.YAMLError("yaml: document contains excessive aliasing")
        return loader.construct_document(node)
    except RecursionError:
        raise yaml.YAMLError("yaml: exceeded max depth") from None
    finally:
        loader.dispose()
