"""Helpers to run the real embedded stack from tests and benchmarks."""
