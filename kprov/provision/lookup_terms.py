"""A lookup's terms as ansible-core 2.18 prepares them (``listify_lookup_plugin_terms``),
and community.general's ``flattened``, the lookup that prepares its string terms again.

``Templar._lookup`` runs the listifying on the arguments of every ``lookup()``/``query()``,
the task executor on every ``with_<lookup>``'s terms: each string inside them is rendered
once more (no ``convert_bare``: a bare variable name stays text), a ``with_*`` string is
stripped first, and a result that is a string or not iterable becomes a list of one (a
mapping stays whole: ``with_items`` of one iterates its keys). Unsafe text is never rendered
and stays unsafe when stripped (ansible-core's unsafe str methods keep the class).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from kprov.provision.errors import TemplateError
from kprov.provision.yamlfile import SourceDict, UnsafeText

__all__ = ["flattened", "listify_terms", "strip_text", "template_terms"]


class Templar(Protocol):
    def template(self, value: Any, where: str) -> Any: ...


def template_terms(terms: Any, t: Templar, where: str) -> Any:
    """A lookup's terms templated, as ansible-core's ``listify_lookup_plugin_terms`` does
    before every lookup runs (``lookup()``/``query()`` and ``with_<lookup>``): each string
    inside lists and plain mappings rendered once more, so ``lookup('items', '{{ x }}')`` is
    ``x``'s value. A bare name stays text (no ``convert_bare``); unsafe text is not rendered;
    other mappings (``hostvars``) are left whole, their values rendered when read."""
    if isinstance(terms, str):
        return t.template(terms, where)
    if isinstance(terms, list | tuple):
        return [template_terms(term, t, where) for term in terms]
    if type(terms) is dict or isinstance(terms, SourceDict):  # plain or as the playbook's YAML gave it
        return {k: template_terms(v, t, where) for k, v in terms.items()}
    return terms


def listify_terms(terms: Any, t: Templar, where: str) -> Any:
    """``listify_lookup_plugin_terms``: a string stripped (unsafe text stays unsafe) and
    templated, everything templated (template_terms); a string or a non-iterable result
    becomes a list of one; another iterable (a mapping) is returned as it is."""
    if isinstance(terms, str):
        terms = strip_text(terms)
    terms = template_terms(terms, t, where)
    if isinstance(terms, str) or not isinstance(terms, Iterable):
        return [terms]
    return terms


def strip_text(text: str) -> str:
    """``text.strip()`` keeping unsafe text unsafe (ansible-core's unsafe str methods do)."""
    return UnsafeText(text.strip()) if isinstance(text, UnsafeText) else text.strip()


def flattened(terms: list[Any], variables: Mapping[str, Any], t: Templar, sub: str,
              kw: dict[str, Any]) -> list[Any]:
    """community.general.flattened (10.x, with ansible-core 2.18): every level flattened; a
    list of one list stands for that list; a string term is listified once more (stripped and
    templated: text a template built, ``'{{ x }}'``, becomes its value; a bare variable name
    stays the name) and flattened when that gives another value; the string 'None' or 'null'
    ends the list it is in (the rest of that list is dropped); None and '' are items."""

    def one(term: Any) -> Any:  # _check_list_of_one_list
        while isinstance(term, list) and len(term) == 1:
            term = term[0]
        return term

    def flat(values: list[Any], depth: int) -> list[Any]:
        if depth > 512:
            raise TemplateError("flattened: too deep (a list containing itself?)")
        out: list[Any] = []
        for term in values:
            term = one(term)
            if isinstance(term, str) and term in ("None", "null"):
                break
            if isinstance(term, str):
                again = listify_terms(term, t, "lookup flattened")
                if again != [term]:
                    term = again
            if isinstance(term, list):
                out += flat(term, depth + 1)
            else:
                out.append(term)
        return out

    return flat(terms, 0)
