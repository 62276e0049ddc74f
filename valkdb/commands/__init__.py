"""Command families, one module each (as Redis has t_string.c, db.c ...).

Importing this package registers every command in registry.COMMANDS.
"""

from valkdb.commands import (  # noqa: F401
    bitmaps,
    connection,
    geo,
    hashes,
    hyperloglog,
    introspection,
    keys,
    lists,
    persistence,
    pubsub,
    server,
    sets,
    stream_groups,
    stream_info,
    stream_reads,
    streams,
    strings,
    transactions,
    zsets,
)
