"""In-memory data: the sharded keyspace (keyspace.py) and its active expiry (expiry.py)."""
