"""DUMP, RESTORE and MIGRATE (Redis's cluster.c). Being written."""
