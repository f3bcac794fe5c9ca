"""Pod Security admission: upstream's built-in ``PodSecurity`` plugin (k8s.io/pod-security-admission).

Modules: levels (levels, versions, a namespace's policy from its labels), _pods (what the
checks share), baseline and restricted (the checks, one function per check and version),
registry (the table of checks per level and version, and the evaluator), configuration
(the PodSecurityConfiguration of --admission-control-config-file), plugin (the decisions)
and admission (the plugin in the API server's write path).
"""

from kprov.cluster.apiserver.admission.podsecurity.admission import plugin_of, validate
from kprov.cluster.apiserver.admission.podsecurity.configuration import (
    PLUGIN_NAME,
    ConfigurationError,
    PodSecurityConfig,
    load_admission_config,
)
from kprov.cluster.apiserver.admission.podsecurity.plugin import PodSecurity

__all__ = [
    "PLUGIN_NAME",
    "ConfigurationError",
    "PodSecurity",
    "PodSecurityConfig",
    "load_admission_config",
    "plugin_of",
    "validate",
]
