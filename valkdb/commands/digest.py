"""DEBUG DIGEST and DIGEST-VALUE: Redis's order-aware SHA1 signature of the dataset (debug.c).

Two ways of folding data into a 20-byte digest, as Redis defines them: `xor` adds the SHA1 of
the data into the digest (order does not matter: sets, hash fields, the keys of a database),
`mix` also re-hashes the digest itself (order matters: a list's elements, a string after its
type). Per key: the key, then the value - its type number (4 bytes, big endian), its elements
in the type's way, and the marker "!!expire!!" when it has a deadline. Sorted-set scores go in
as C's "%.17g" writes them, stream entries as "ms.seq" then each field and value (consumer
groups are left out, as in Redis). A database's keys are xored in after its number was mixed.

The result depends only on the data, not on its encoding, so valkdb's digest of a dataset is
redis-server's, for every type: replication and AOF tests compare the two.
"""

from __future__ import annotations

from hashlib import sha1
from typing import Any

from valkdb.store.keyspace import Database, Keyspace
from valkdb.store.stream import SEQ_BITS, SEQ_MASK, Stream, decode_entry
from valkdb.store.types import Hash, List, Set, ZSet

_ZERO = bytes(20)
_EXPIRE_MARK = b"!!expire!!"
# OBJ_STRING 0, OBJ_LIST 1, OBJ_SET 2, OBJ_ZSET 3, OBJ_HASH 4, OBJ_STREAM 6: as htonl() lays
# them out.
_TYPE_CODES: dict[type, bytes] = {
    bytes: (0).to_bytes(4, "big"), List: (1).to_bytes(4, "big"), Set: (2).to_bytes(4, "big"),
    ZSet: (3).to_bytes(4, "big"), Hash: (4).to_bytes(4, "big"), Stream: (6).to_bytes(4, "big"),
}


def _xor(digest: int, data: bytes) -> int:
    return digest ^ int.from_bytes(sha1(data).digest(), "big")


def _mix(digest: int, data: bytes) -> int:
    return int.from_bytes(sha1(_xor(digest, data).to_bytes(20, "big")).digest(), "big")


def _pair(first: bytes, second: bytes) -> bytes:
    """A (member, score) or (field, value) pair's own digest, whose SHA1 is xored into the
    value's."""
    return _mix(_mix(0, first), second).to_bytes(20, "big")


def value_digest(digest: int, value: Any, has_deadline: bool) -> int:
    """Redis's xorObjectDigest: fold one value (and whether it expires) into digest."""
    kind = type(value)
    digest = _mix(digest, _TYPE_CODES[kind])
    if kind is bytes:
        digest = _mix(digest, value)
    elif kind is List:
        for item in value:  # stored as RESP bulk strings
            digest = _mix(digest, item[item.index(b"\n") + 1:-2])
    elif kind is Set:
        for member in value.members:
            digest = _xor(digest, member)
    elif kind is ZSet:
        for member, score in value.items():
            digest = _xor(digest, _pair(member, b"%.17g" % score))
    elif kind is Hash:
        for field, field_value in value.items():
            digest = _xor(digest, _pair(field, field_value))
    elif kind is Stream:
        for node in value.nodes.values():
            for entry_id, encoded, live in node.entries():
                if not live:
                    continue
                digest = _mix(digest, b"%d.%d" % (entry_id >> SEQ_BITS, entry_id & SEQ_MASK))
                for part in decode_entry(encoded):
                    digest = _mix(digest, part)
    if has_deadline:
        digest = _xor(digest, _EXPIRE_MARK)
    return digest


def key_digest(db: Database, key: bytes) -> bytes:
    """DIGEST-VALUE's digest of one key's value (20 zero bytes when there is none); keys past
    their deadline still count, as Redis reads the dict directly."""
    shard = db.shard(key)
    value = shard.data.get(key)
    if value is None:
        return _ZERO
    return value_digest(0, value, key in shard.expires).to_bytes(20, "big")


def dataset_digest(keyspace: Keyspace) -> bytes:
    """computeDatasetDigest: every database that holds keys, in order."""
    final = 0
    for db in keyspace.dbs:
        if not db.size():
            continue
        final = _mix(final, db.index.to_bytes(4, "big"))
        for shard in db.shards:
            expires = shard.expires
            for key, value in shard.data.items():
                final = _xor(final, value_digest(_mix(0, key), value, key in expires)
                             .to_bytes(20, "big"))
    return final.to_bytes(20, "big")
