"""Tooling that runs Sportello on this machine (used by make and by the end-to-end tests)."""
