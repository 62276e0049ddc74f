"""Benchmarks and load tools; each measures valkdb beside a real redis-server in the same run."""
