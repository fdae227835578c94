"""Seed lineage: every seed a run germinated, kept from the worker's seed events."""
