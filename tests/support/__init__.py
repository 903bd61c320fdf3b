"""Helpers shared by the test modules; ``bench/`` may import them too, and nothing else outside ``tests/``."""
