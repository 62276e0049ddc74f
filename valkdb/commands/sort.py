"""SORT and SORT_RO (Redis's sort.c). Being written."""
