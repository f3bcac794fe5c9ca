"""`kprov conformance`: run the upstream conformance suite against the inventory's cluster."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from kprov.conformance.runner import ConformanceError, ConformanceOptions, run_conformance
from kprov.conformance.suites import SUITES
from kprov.deploy.verify.run import admin_kubeconfig_path
from kprov.provision.errors import ProvisionError

__all__ = ["register"]

_MEDIA_TYPES = {"protobuf": "application/vnd.kubernetes.protobuf", "json": "application/json"}
_SPEC_SECONDS_HELP = ("Deal shards by a spec-seconds.json (an earlier run's report has one; default: "
                      "the one kprov ships, from a whole conformance run).")


def register(app: typer.Typer) -> None:
    @app.command("conformance")
    def conformance_cmd(
        inventory: Path = typer.Option(..., "-i", "--inventory", help="The cluster's inventory."),
        e2e_test: Path = typer.Option(..., "--e2e-test",
                                      help="The upstream e2e.test binary (any version; .gz is unpacked)."),
        agnhost: Path = typer.Option(None, "--agnhost", help="An agnhost binary (or .gz): the image."),
        suite: str = typer.Option(
            "conformance", "--suite", help="conformance ([Conformance] specs) or default (upstream's e2e job)"
        ),
        focus: str | None = typer.Option(None, "--focus", help="Ginkgo focus regex (default: the suite's)."),
        skip: str | None = typer.Option(None, "--skip", help="Ginkgo skip regex (default: the suite's)."),
        tests: Path = typer.Option(None, "--tests", help="Run only these spec names (one per line)."),
        expect: Path = typer.Option(None, "--expect",
                                    help="Spec names that must pass: exit 1 only if one of them did not."),
        parallel: int = typer.Option(4, "--parallel", min=1,
                                     help="Parallel e2e processes (serial specs after)."),
        report_dir: Path = typer.Option(None, "--report-dir",
                                        help="Where the report goes (default: a new directory)."),
        timeout: int = typer.Option(120, "--timeout", min=1, help="Minutes each e2e process may run."),
        images: bool = typer.Option(True, "--images/--no-images",
                                    help="Build and import the suite's images."),
        mirror_images: bool = typer.Option(
            None, "--mirror-images/--no-mirror-images",
            help="Load the suite's images into the cluster's mirrors too (for specs that pull with "
                 "imagePullPolicy Always; default: yes but for --suite conformance, whose specs never do).",
        ),
        content_type: str = typer.Option("protobuf", "--content-type",
                                         help="The suite's wire format: protobuf (its default) or json."),
        num_nodes: int = typer.Option(
            None, "--num-nodes", min=1,
            help="Upstream's --num-nodes: the node count specs that need N nodes compare with "
                 "(default: the suite counts the schedulable nodes)."),
        spec_seconds: Path = typer.Option(None, "--spec-seconds", help=_SPEC_SECONDS_HELP),
    ) -> None:
        """Run the upstream Kubernetes conformance suite offline and write a report."""
        console = Console(highlight=False)
        media = _MEDIA_TYPES.get(content_type)
        if media is None:
            console.print(f"[red]error:[/red] --content-type must be one of {', '.join(_MEDIA_TYPES)}")
            raise typer.Exit(2)
        selection = SUITES.get(suite)
        if selection is None:
            console.print(f"[red]error:[/red] --suite must be one of {', '.join(SUITES)}")
            raise typer.Exit(2)
        out = report_dir or Path.cwd() / time.strftime("conformance-%Y%m%dT%H%M%S")
        console.print(f"report directory: {out}")
        opts = ConformanceOptions(
            inventory=inventory, kubeconfig=admin_kubeconfig_path(inventory), e2e_test=e2e_test,
            report_dir=out, agnhost=agnhost, focus=selection.focus if focus is None else focus,
            skip=selection.skip if skip is None else skip, tests_file=tests, expect_file=expect,
            parallel=parallel, timeout_min=timeout, push_images=images, content_type=media,
            mirror_images=suite != "conformance" if mirror_images is None else mirror_images,
            selection=selection if skip is None else None, num_nodes=num_nodes, spec_seconds=spec_seconds,
        )
        try:
            run = run_conformance(opts, say=lambda text: console.print(escape(text)))
        except (ConformanceError, ProvisionError, OSError, ValueError) as err:
            console.print(f"[red]error:[/red] {escape(str(err))}")
            raise typer.Exit(2) from err
        summary = run.summary
        for name in run.unknown_names:
            console.print(f"[yellow]warning:[/yellow] not a spec of this e2e.test: {escape(name)}")
        for failure in summary.failures:
            where = f" ({failure['where']})" if failure.get("where") else ""
            line = escape(failure["error"] + where)
            console.print(f"[red]FAIL[/red] {escape(failure['name'])}\n     {line}")
        for skipped in summary.skips:  # the spec ran and skipped itself: upstream's reason, verbatim
            where = f" ({skipped['where']})" if skipped.get("where") else ""
            console.print(f"[yellow]SKIP[/yellow] {escape(skipped['name'])}\n"
                          f"     {escape(skipped['reason'] + where)}")
        console.print(f"{suite}: {summary.passed} passed, {summary.failed} failed, "
                      f"{summary.skipped} skipped, {summary.not_run} not run of {summary.total} "
                      f"({summary.pass_ratio:.1%}) in {summary.duration_s:.0f} s — {run.report}")
        if expect is not None:
            for name in summary.regressions:
                console.print(f"[red]REGRESSION[/red] {escape(name)}")
            raise typer.Exit(1 if summary.regressions else 0)
        # as Ginkgo: a spec that skipped itself fails nothing; one that failed or never ran does
        raise typer.Exit(0 if summary.failed == 0 and summary.not_run == 0 else 1)
