"""Esper workers: one process per device, running the training engine."""
