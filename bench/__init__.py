"""Benchmarks: figures and ratios against a raw aiokafka baseline measured in the same run."""
