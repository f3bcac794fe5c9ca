"""Filters, tests and lookups of installed Ansible collections, loaded on first use.

A name kprov does not implement itself — ``ansible.utils.to_paths``, ``community.general.
dict_kv``, ``with_community.general.filetree``, or a short name ansible-core routes to a
collection (``json_query``, ``filetree``) — is looked up through ansible-core's own plugin
loaders (``ansible.plugins.loader``), with its collection finder installed over the
collection roots kprov searches (modules.protocol.locate), so names, redirects and
deprecations resolve exactly as Ansible resolves them. Nothing of ansible-core is imported
until a template names something kprov lacks; without ansible-core (the ``kprov[ansible]``
extra) such a name stays unknown and the error says what to install.

:class:`PluginMap` is the Jinja2 environment's ``filters``/``tests`` mapping: a dict whose
misses ask the collections (once per name; what was found is kept in the dict).
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kprov.provision.errors import TemplateError

__all__ = ["CollectionPlugins", "PluginMap"]

_HINT = "pip install 'kprov[ansible]'"


class CollectionPlugins:
    """One engine's access to ansible-core's filter, test and lookup loaders."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: bool | None = None  # None: not tried yet; False: no ansible-core

    def available(self) -> bool:
        if self._ready is None:
            try:
                import ansible.plugins.loader  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
            except ImportError:
                self._ready = False
            else:
                self._ready = True
        return self._ready

    @contextlib.contextmanager
    def _collections(self) -> Iterator[None]:
        """ansible-core's collection finder in ``sys.meta_path`` while a plugin is loaded or a
        lookup runs, and out again after (it would change how this process imports every
        ``ansible_collections`` package); one at a time. Collection packages this process
        imported without the finder are set aside meanwhile (the finder needs its own, with
        the collection's metadata) and put back after."""
        from ansible.plugins.loader import init_plugin_loader  # type: ignore[import-untyped,unused-ignore]
        from ansible.utils.collection_loader._collection_finder import (  # type: ignore[import-untyped,unused-ignore]
            _AnsibleCollectionFinder,
        )

        from kprov.provision.modules.protocol.locate import collection_roots

        with self._lock:
            installed = any(isinstance(f, _AnsibleCollectionFinder) for f in sys.meta_path)
            if installed:  # the process set up ansible-core itself: use it as it is
                yield
                return
            aside = {n: m for n, m in sys.modules.items() if n.split(".", 1)[0] == "ansible_collections"}
            for name in aside:
                del sys.modules[name]
            init_plugin_loader([str(root.parent) for root in collection_roots(None)])
            try:
                yield
            finally:
                _AnsibleCollectionFinder._remove()
                for name in [n for n in sys.modules if n.split(".", 1)[0] == "ansible_collections"]:
                    del sys.modules[name]
                sys.modules.update(aside)

    def function(self, kind: str, name: str) -> Callable[..., Any] | None:
        """A filter's or test's function (``kind``: filter | test); None when none has the name."""
        if not self.available():
            return None
        from ansible.plugins.loader import filter_loader, test_loader  # type: ignore[import-untyped,unused-ignore]

        loader = filter_loader if kind == "filter" else test_loader
        try:
            with self._collections():
                plugin = loader.get(name)
        except (KeyError, ImportError, ValueError):
            return None
        return getattr(plugin, "j2_function", None) if plugin is not None else None

    def lookup(self, name: str, terms: list[Any], variables: Mapping[str, Any],
               kwargs: dict[str, Any]) -> list[Any]:
        if not self.available():
            raise TemplateError(f"lookup plugin '{name}' is not supported by kprov; a collection's lookup "
                                f"needs ansible-core beside kprov: {_HINT}")
        from ansible.errors import AnsibleError  # type: ignore[import-untyped,unused-ignore]
        from ansible.parsing.dataloader import DataLoader  # type: ignore[import-untyped,unused-ignore]
        from ansible.plugins.loader import lookup_loader  # type: ignore[import-untyped,unused-ignore]
        from ansible.template import Templar  # type: ignore[import-untyped,unused-ignore]

        loader = DataLoader()
        loader.set_basedir(str(variables.get("playbook_dir") or Path.cwd()))
        with self._collections():
            try:
                plugin = lookup_loader.get(name, loader=loader, templar=Templar(loader=loader))
            except (KeyError, ImportError, ValueError) as err:
                raise TemplateError(f"lookup plugin '{name}': {err}") from None
            if plugin is None:
                raise TemplateError(f"lookup plugin ({name}) not found")  # ansible-core's words
            try:
                found = plugin.run(terms, variables=variables, **kwargs)
            except AnsibleError as err:
                raise TemplateError(f"lookup plugin '{name}': {err}") from None
        return list(found or [])


class PluginMap(dict[str, Any]):
    """kprov's filters (or tests), and on a miss the installed collections' (see module doc)."""

    def __init__(self, kind: str, plugins: CollectionPlugins, own: Mapping[str, Any]) -> None:
        super().__init__(own)
        self.kind, self.plugins = kind, plugins
        self._missing: set[str] = set()

    def __missing__(self, name: str) -> Any:
        if name in self._missing:
            raise KeyError(name)
        function = self.plugins.function(self.kind, name)
        if function is None:
            self._missing.add(name)
            raise KeyError(name)
        self[name] = function
        return function

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None
