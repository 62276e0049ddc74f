"""valkdb: a Redis 7.0-compatible in-memory data server in pure Python on gevent."""

__version__ = "0.1.0"

# The Redis release whose behaviour valkdb implements; clients gate features on it (INFO, HELLO).
REDIS_VERSION = "7.0.15"
