"""Experiments that produce the evidence tables in docs/."""
