"""Benchmarks: `make bench` prints a markdown table, each figure next to its ceiling."""
