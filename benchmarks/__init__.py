"""Measurements that take minutes: `python -m benchmarks.<name>` (see docs/evaluation.md)."""
