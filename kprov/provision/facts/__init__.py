"""Host facts, gathered in one round trip per host (see kprov.provision.facts.gather)."""

from kprov.provision.facts.gather import FACTS_SCRIPT, gather_facts, parse_facts

__all__ = ["FACTS_SCRIPT", "gather_facts", "parse_facts"]
