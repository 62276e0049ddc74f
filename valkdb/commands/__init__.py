"""Command families, one module each (as Redis has t_string.c, db.c ...).

Importing this package registers every command in registry.COMMANDS.
"""

from valkdb.commands import (  # noqa: F401
    bitmaps,
    client,
    cluster,
    connection,
    dump,
    geo,
    hashes,
    hyperloglog,
    introspection,
    keys,
    lists,
    lolwut,
    memory,
    persistence,
    pubsub,
    server,
    sets,
    sort,
    stream_groups,
    stream_info,
    stream_reads,
    streams,
    strings,
    transactions,
    zsets,
)
