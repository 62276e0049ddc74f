"""LOLWUT (Redis's lolwut.c). Being written."""
