"""ansible.builtin.template: render a Jinja2 template on the controller and place the result.

The template is found with ``ctx.find_file(src, "templates")`` (an absolute path as it is) and
rendered with ``ctx.render_template`` (the engine's one Jinja2 environment with the task's
variables and the task's Jinja2 settings: ``trim_blocks``, ``lstrip_blocks``,
``newline_sequence``, the start/end strings; a ``#jinja2:`` first line of the template
overrides them). Placement is the same checksum-first logic as copy, in placefile's
contract steps: ``decide`` (pure) takes the destination's probe and the rendered text's sha1
and size and returns a ``Placement``, ``act`` writes them or fixes the attributes. The template renders
before the host is read (a template error fails first); ``run`` conducts placefile's reads
that depend on the decision (``dest/NAME`` for a directory dest, the old bytes for a diff).
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from typing import Any

from kprov.provision.connect.base import CommandResult
from kprov.provision.modules.args import FILE_ATTRS, Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult, TaskView
from kprov.provision.modules.contract import ModuleBase, carry_out
from kprov.provision.modules.files.placefile import (
    Placement,
    PlaceOptions,
    act_placement,
    place_probe,
    placed_path,
    placement,
    plan_placement,
)

__all__ = ["MODULE", "TemplateModule"]

SPEC = {
    "src": Arg(required=True), "dest": Arg(required=True), "backup": Arg("bool", default=False),
    "force": Arg("bool", default=True), "validate": Arg(), "follow": Arg("bool", default=False),
    "newline_sequence": Arg(default="\n", choices=("\n", "\r", "\r\n")),
    "trim_blocks": Arg("bool", default=True), "lstrip_blocks": Arg("bool", default=False),
    "output_encoding": Arg(default="utf-8"), "variable_start_string": Arg(), "variable_end_string": Arg(),
    "block_start_string": Arg(), "block_end_string": Arg(), "comment_start_string": Arg(),
    "comment_end_string": Arg(), **FILE_ATTRS,
}


# The template task's options that are Jinja2 settings (template_settings.TemplateSettings).
_SETTINGS = ("trim_blocks", "lstrip_blocks", "newline_sequence", "variable_start_string",
             "variable_end_string", "block_start_string", "block_end_string", "comment_start_string",
             "comment_end_string")
# newline_sequence written with its backslash escaped (as YAML's single quotes keep it): its character
_ESCAPED_NEWLINES = {"\\n": "\n", "\\r": "\r", "\\r\\n": "\r\n"}


def _options(params: Mapping[str, Any]) -> PlaceOptions:
    return PlaceOptions(owner=params["owner"], group=params["group"], mode=params["mode"],
                        backup=params["backup"], force=params["force"], validate=params["validate"])


class TemplateModule(ModuleBase):
    name = "template"
    spec = SPEC

    def params(self, args: Mapping[str, Any]) -> dict[str, Any]:
        given = dict(args)
        newline = given.get("newline_sequence")
        if isinstance(newline, str):
            given["newline_sequence"] = _ESCAPED_NEWLINES.get(newline, newline)
        return parse_args(self.name, SPEC, given)

    def probes(self, params: Mapping[str, Any], view: TaskView) -> list[str]:
        src = view.find_file(params["src"], "templates")
        return [place_probe(placed_path(params["dest"], src.name))]

    def decide(self, params: Mapping[str, Any], observed: Mapping[str, CommandResult],
               digest: tuple[str, int] | None = None, src_name: str | None = None) -> Placement:
        """The placement for the destination's probe results and the rendered text's (sha1,
        size) (a template named ``src_name``, by default the last part of ``src``)."""
        name = src_name or posixpath.basename(params["src"])
        return placement(self.name, placed_path(params["dest"], name), observed, name, digest,
                         _options(params))

    def act(self, ctx: ModuleContext, plan: Placement) -> dict[str, Any]:
        """Write the plan's bytes, or fix the attributes; returns the backup's name, if any."""
        return act_placement(ctx, self.name, plan)

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        p = self.params(args)
        src = ctx.find_file(p["src"], "templates")
        settings = {name: p[name] for name in _SETTINGS if p[name] is not None}

        def render() -> bytes:
            try:
                source = src.read_text()
            except OSError as exc:
                raise ModuleFailed(f"template: cannot read {src}: {exc}") from exc
            text = ctx.render_template(source, settings)
            return bytes(text.encode(p["output_encoding"]))

        def decide(observed: Mapping[str, CommandResult], digest: tuple[str, int] | None) -> Placement:
            return self.decide(p, observed, digest, src.name)

        plan = plan_placement(ctx, p["dest"], render(),  # rendered before the host is read
                              decide, src_name=src.name)
        result = carry_out(self, ctx, plan)
        result.data["src"] = p["src"]
        return result


MODULE = TemplateModule()
