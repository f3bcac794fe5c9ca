"""`kprov apply` and `kprov plan` as one action: a list of phases over one inventory (every
``-i`` source), read top to bottom.

1. Find the playbook (``./site.yml``, else the repository's ``roles/site.yml``).
2. kprov's cluster playbook only: the preflight checks and the resolve pass run between
   connecting and the first play, so bad hosts and undefined variables stop the run before
   any host changes (kprov.deploy.preflight, kprov.provision.execute.resolve).
3. Connect every host; meanwhile make the operator-side artifacts current for kprov's own
   playbooks: PKI, kprov's runtime, the node images (kprov.deploy.prepare).
4. The plays (kprov.provision.pipelines: apply, or plan in check mode).
5. kprov's cluster playbook, after a complete run without ``--limit``: remove the nodes that
   left the inventory (kprov.deploy.scale_in); plan only names them.

Rendering is the CLI's. The PKI, cryptography and the cluster client are imported only for
kprov's playbooks (a plain playbook's run does not pay for them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kprov.deploy.playbooks import is_cluster_playbook, needs_prepared_artifacts
from kprov.provision import pipelines
from kprov.provision.execute import RunOptions, RunReport

if TYPE_CHECKING:
    from kprov.deploy.scale_in import NodeRemoval
    from kprov.provision.execute.results import RunObserver
    from kprov.provision.phases.base import Phase

__all__ = ["ApplyOutcome", "PreflightSkipError", "run_apply", "run_plan"]

Progress = Callable[[str], None]


class PreflightSkipError(ValueError):
    """``--skip-preflight`` named a check the preflight does not have."""


@dataclass
class ApplyOutcome:
    report: RunReport
    removed: list[NodeRemoval] = field(default_factory=list)  # scale-in, apply only
    would_remove: list[str] = field(default_factory=list)  # scale-in, plan only


def run_apply(inventory: Sequence[str], playbook: str | None, options: RunOptions,
              observer: RunObserver | None = None, *, skip_preflight: frozenset[str] = frozenset(),
              progress: Progress = lambda _: None) -> ApplyOutcome:
    return _run(pipelines.apply, inventory, playbook, options, observer, skip_preflight, progress)


def run_plan(inventory: Sequence[str], playbook: str | None, options: RunOptions,
             observer: RunObserver | None = None, *,
             skip_preflight: frozenset[str] = frozenset()) -> ApplyOutcome:
    return _run(pipelines.plan, inventory, playbook, options, observer, skip_preflight, lambda _: None)


def _run(runner: Callable[..., RunReport], inventory: Sequence[str], playbook: str | None,
         options: RunOptions, observer: RunObserver | None, skip_preflight: frozenset[str],
         progress: Progress) -> ApplyOutcome:
    sources = list(inventory)
    path = pipelines.find_playbook(playbook)                                     # 1
    cluster = is_cluster_playbook(path)
    before_plays = [_preflight(skip_preflight)] if cluster else []               # 2
    options.resolve_first = options.resolve_first or cluster
    report = runner(sources, path, options, observer,                            # 3, 4
                    meanwhile=lambda: _prepare(path, sources, options), before_plays=before_plays)
    outcome = ApplyOutcome(report)
    if cluster and report.ok and not options.limit:                              # 5
        _scale_in(sources, options, outcome, progress)
    return outcome


def _preflight(skip: frozenset[str]) -> Phase:
    from kprov.deploy.preflight import PreflightPhase  # the cluster playbook's only

    try:
        return PreflightPhase(skip)
    except ValueError as err:
        raise PreflightSkipError(str(err)) from None


def _prepare(playbook: Path, sources: list[str], options: RunOptions) -> None:
    """kprov's own playbooks: the PKI, the runtime and the node images first; their locations
    become run variables (-e still wins)."""
    if needs_prepared_artifacts(playbook):
        from kprov.deploy.prepare import prepare_cluster  # the PKI and cryptography: kprov's playbooks only

        prepared = prepare_cluster(sources)
        options.extra_vars = {**prepared.extra_vars, **options.extra_vars}


def _scale_in(sources: list[str], options: RunOptions, outcome: ApplyOutcome, progress: Progress) -> None:
    from kprov.deploy.scale_in import departed_nodes, remove_departed_nodes  # the cluster's only

    departed = departed_nodes(sources)
    if not departed:
        return
    if options.check:
        outcome.would_remove = departed
        return
    outcome.removed = remove_departed_nodes(sources, progress=progress)
