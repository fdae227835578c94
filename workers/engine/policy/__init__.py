"""Tamiyo: the growth policy, its risk engine, deadline and field reports."""
