"""RESTORE's and MIGRATE's steps of test_propagation_diff.py's corpus (same syntax, checked
against redis-server 7.0.15 first)."""

from __future__ import annotations

DUMP: dict[str, list[str | tuple[str, ...]]] = {}
