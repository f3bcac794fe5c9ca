"""ValidatingAdmissionPolicy: upstream's built-in CEL admission plugin (admissionregistration.k8s.io/v1).

Modules: matching (which requests a policy's or binding's match rules select), evaluator
(a policy compiled once into CEL programs, and its evaluation) and admission (the plugin
in the API server's write path). The kinds' validation is
:mod:`kprov.cluster.api.validation.admission_policy`.
"""

from kprov.cluster.apiserver.admission.vap.admission import FAILURE_ANNOTATION, PLUGIN_NAME, validate

__all__ = ["FAILURE_ANNOTATION", "PLUGIN_NAME", "validate"]
