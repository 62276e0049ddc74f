"""Persistence in Redis's own formats: RDB snapshots (rdb.py) and the multi-part append-only
file (aof.py), so that files move freely between valkdb and redis-server 7.0."""
