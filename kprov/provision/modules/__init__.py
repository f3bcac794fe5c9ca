"""Idempotent task modules (template, copy, file, command, systemd_service, apt, ...)."""

from kprov.provision.modules.base import (
    Module,
    ModuleArgsError,
    ModuleContext,
    ModuleFailed,
    ModuleResult,
    UnknownModuleError,
)
from kprov.provision.modules.registry import get_module, known_module_names

__all__ = [
    "Module",
    "ModuleArgsError",
    "ModuleContext",
    "ModuleFailed",
    "ModuleResult",
    "UnknownModuleError",
    "get_module",
    "known_module_names",
]
