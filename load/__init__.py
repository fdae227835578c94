"""Benchmarks: `python -m load <scenario> [--quick] [--json PATH]` (BENCHMARKS.md)."""
