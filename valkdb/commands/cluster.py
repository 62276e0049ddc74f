"""The cluster-only commands in standalone mode (Redis's cluster.c with cluster-enabled no).

valkdb has no cluster mode, so it answers as a redis-server 7.0 started without
`cluster-enabled yes`: CLUSTER and all of its subcommands (HELP and KEYSLOT included, which
need no cluster state) and the connection flags READONLY / READWRITE / ASKING are known
commands, checked for arity like any other, whose only reply is an error. An unknown CLUSTER
subcommand gets the dispatcher's usual unknown-subcommand error.
"""

from __future__ import annotations

from valkdb import errors
from valkdb.core.context import Context
from valkdb.core.registry import TABLE, command, container

_DISABLED = errors.err("ERR This instance has cluster support disabled")


def cluster_disabled(c: Context, argv: list[bytes]) -> bytes:
    return _DISABLED


container("cluster")
for _name in sorted(name for name in TABLE if name.startswith("cluster|")):
    command(_name)(cluster_disabled)

for _name in ("readonly", "readwrite", "asking"):
    command(_name)(cluster_disabled)
