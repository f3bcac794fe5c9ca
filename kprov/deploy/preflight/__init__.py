"""Preflight: everything that would make the cluster playbook fail halfway, checked on every
host before any host is changed (kprov apply, kprov up). See ``checks`` for the list."""

from kprov.deploy.preflight.checks import CHECK_NAMES, Problem, evaluate
from kprov.deploy.preflight.phase import PreflightPhase
from kprov.deploy.preflight.probe import PROBE_SCRIPT, HostProbe, parse_probe

__all__ = ["CHECK_NAMES", "PROBE_SCRIPT", "HostProbe", "PreflightPhase", "Problem", "evaluate", "parse_probe"]
