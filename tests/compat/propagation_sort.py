"""SORT's steps of test_propagation_diff.py's corpus (same syntax, checked against
redis-server 7.0.15 first)."""

from __future__ import annotations

SORT: dict[str, list[str | tuple[str, ...]]] = {}
