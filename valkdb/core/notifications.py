"""Keyspace notifications (Redis's notify.c): an event on a key is published as pub/sub messages.

With the K class on, `__keyspace@<db>__:<key>` carries the event's name; with E,
`__keyevent@<db>__:<event>` carries the key. Which events are published is the
notify-keyspace-events setting, an int of class bits (config/special.py parses and prints it).

Handlers call `c.notify(CLASS, b"event", key)` next to each write, once per event, in the order
Redis emits them; `notify` returns at once (one int test) when the class is off. The store knows
nothing of this: the keys it creates, expires and misses on reads reach here through its hooks
(`new_key`, `expired_key`, `key_miss`, installed by the server).
"""

from __future__ import annotations

from typing import Any

from valkdb.config.special import NOTIFY_FLAGS

KEYSPACE = NOTIFY_FLAGS["K"]
KEYEVENT = NOTIFY_FLAGS["E"]
GENERIC = NOTIFY_FLAGS["g"]
STRING = NOTIFY_FLAGS["$"]
LIST = NOTIFY_FLAGS["l"]
SET = NOTIFY_FLAGS["s"]
HASH = NOTIFY_FLAGS["h"]
ZSET = NOTIFY_FLAGS["z"]
EXPIRED = NOTIFY_FLAGS["x"]
EVICTED = NOTIFY_FLAGS["e"]
STREAM = NOTIFY_FLAGS["t"]
KEY_MISS = NOTIFY_FLAGS["m"]
MODULE = NOTIFY_FLAGS["d"]
NEW = NOTIFY_FLAGS["n"]


def notify(server: Any, flag: int, event: bytes, key: bytes, db: int) -> None:
    """Publish one event of class `flag` on `key` in database `db`, if that class is on."""
    flags = server.config.notify_keyspace_events
    if not flags & flag:
        return
    publish = server.pubsub.publish
    if flags & KEYSPACE:
        publish(b"__keyspace@%d__:%s" % (db, key), event)
    if flags & KEYEVENT:
        publish(b"__keyevent@%d__:%s" % (db, event), key)


def new_key(server: Any, db: Any, key: bytes) -> None:
    """The store's hook for a key created (Redis's dbAdd): the `new` event."""
    if server.config.notify_keyspace_events & NEW:
        notify(server, NEW, b"new", key, db.index)


def key_miss(server: Any, db: Any, key: bytes) -> None:
    """A read found no key (Redis's lookupKeyRead, not its write lookups): `keymiss`."""
    if server.config.notify_keyspace_events & KEY_MISS:
        notify(server, KEY_MISS, b"keymiss", key, db.index)


def expired_key(server: Any, db: Any, key: bytes) -> None:
    """A key removed because its deadline passed, lazily or by the active cycle."""
    if server.config.notify_keyspace_events & EXPIRED:
        notify(server, EXPIRED, b"expired", key, db.index)
