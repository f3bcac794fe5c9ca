"""ansible.builtin.template: render a Jinja2 template on the controller and place the result.

The template is found with ``ctx.find_file(src, "templates")`` (an absolute path as it is) and
rendered with ``ctx.render_template`` (the engine's one Jinja2 environment with the task's
variables). Placement is the same checksum-first logic as copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kprov.provision.modules.args import FILE_ATTRS, Arg, parse_args
from kprov.provision.modules.base import ModuleContext, ModuleFailed, ModuleResult
from kprov.provision.modules.placefile import place_file

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


class TemplateModule:
    name = "template"

    def run(self, ctx: ModuleContext, args: Mapping[str, Any]) -> ModuleResult:
        p = parse_args(self.name, SPEC, args)
        src = ctx.find_file(p["src"], "templates")

        def render() -> bytes:
            try:
                source = src.read_text()
            except OSError as exc:
                raise ModuleFailed(f"template: cannot read {src}: {exc}") from exc
            text = ctx.render_template(source)
            if p["newline_sequence"] != "\n":
                text = text.replace("\n", p["newline_sequence"])
            return bytes(text.encode(p["output_encoding"]))

        result = place_file(ctx, self.name, p["dest"], render,
                            owner=p["owner"], group=p["group"], mode=p["mode"], backup=p["backup"],
                            force=p["force"], validate=p["validate"], src_name=src.name)
        result.data["src"] = p["src"]
        return result


MODULE = TemplateModule()
