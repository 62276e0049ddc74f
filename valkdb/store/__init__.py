"""In-memory data: the value types (types.py), the sharded keyspace (keyspace.py) and its
active expiry (expiry.py). Knows nothing of commands or clients."""
