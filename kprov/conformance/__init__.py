"""kprov.conformance: run the upstream Kubernetes conformance suite against a kprov cluster.

The role sonobuoy or hydrophone play for upstream clusters, offline: the user brings an
``e2e.test`` binary (any version) and, for the images the suite runs, an ``agnhost``
binary; kprov builds the images under the exact names the suite asks for, imports them on
every node, runs the suite (parallel shards, then the ``[Serial]`` tests) and writes a
report per SIG and per area.

- :mod:`kprov.conformance.specs`: spec results from the suite's JSON report; shard focus regexes
- :mod:`kprov.conformance.images`: which suite images kprov can provide, and their specs
- :mod:`kprov.conformance.aggregator_images`: the Aggregator test's sample-apiserver stand-in
  (:mod:`kprov.conformance.wardle`, on a python3 root from :mod:`kprov.conformance.python_root`)
  and etcd substitute
- :mod:`kprov.conformance.suite`: the e2e binary: list images, list specs, command lines
- :mod:`kprov.conformance.report`: results -> summary tables, failures, regressions
- :mod:`kprov.conformance.runner`: the run as a list of phases
"""

from kprov.conformance.images import ImagePlan, plan_images
from kprov.conformance.report import Summary, summarize, write_report
from kprov.conformance.runner import ConformanceOptions, ConformanceRun, run_conformance
from kprov.conformance.specs import (
    SpecResult,
    focus_regex,
    parse_json_report,
    shard,
    shard_by_seconds,
    spec_seconds,
)
from kprov.conformance.suite import E2ESuite

__all__ = [
    "ConformanceOptions",
    "ConformanceRun",
    "E2ESuite",
    "ImagePlan",
    "SpecResult",
    "Summary",
    "focus_regex",
    "parse_json_report",
    "plan_images",
    "run_conformance",
    "shard",
    "shard_by_seconds",
    "spec_seconds",
    "summarize",
    "write_report",
]
