"""Pruning Lab's benchmarks: `python -m bench` runs them all (see docs/BENCHMARKS.md)."""
