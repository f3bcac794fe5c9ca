"""Phases of a run (open: connect + gather facts, plays, disconnect) and the phase manager."""

from kprov.provision.phases.base import Phase, PhaseManager, for_each_host
from kprov.provision.phases.connect import ConnectPhase, DisconnectPhase
from kprov.provision.phases.plays import PlaysPhase

__all__ = [
    "ConnectPhase",
    "DisconnectPhase",
    "Phase",
    "PhaseManager",
    "PlaysPhase",
    "for_each_host",
]
