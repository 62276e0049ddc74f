"""The cluster-only commands in standalone mode (Redis's cluster.c). Being written."""
