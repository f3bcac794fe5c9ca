"""A labels map's keys and values, validated as kube-apiserver words the errors."""

from __future__ import annotations

from typing import Any

from kprov.cluster.api.validation.field_errors import Errors
from kprov.cluster.api.validation.names import label_value_errors, qualified_name_errors

__all__ = ["validate_labels"]


def validate_labels(errors: Errors, labels: Any, path: str) -> None:
    if not isinstance(labels, dict):
        return
    for key, value in labels.items():
        key_errors = qualified_name_errors(str(key))
        value_errors = label_value_errors(str(value))
        if key_errors or value_errors:
            errors.each(path, key, key_errors)
            errors.each(path, value, value_errors)
