"""Benchmarks: each script prints its figures, measured against references in the same run."""
