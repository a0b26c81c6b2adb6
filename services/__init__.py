"""Sportello's services. Each sub-package is independent: none imports another."""
