"""Benchmark scenarios, one module each."""
