"""The keyspace: numbered databases, each split into shards of plain dicts.

A shard holds `data` (key -> value), `expires` (key -> deadline in ms since the epoch) and
`access` (key -> Redis's 24-bit LRU/LFU field, see ageing.py: every lookup that is not a peek
stores the clock there, as Redis's lookupKey updates robj->lru). Values
are Python objects whose type is the Redis type: bytes for strings; later issues add lists,
hashes, sets and sorted sets.

Why shards and locks: gevent switches greenlets only when one blocks on I/O or sleeps, so a
single-key command, which never yields, is atomic without a lock (and does not pay the ~0.7 µs a
gevent Semaphore costs per acquire+release). Whole-keyspace work (KEYS, SCAN, FLUSHDB, sampling
for active expiry) must yield so other clients keep being served; it takes one shard's lock for a
short section that never yields - a snapshot of its keys, a swap of its dicts - and works on the
snapshot between yields. The lock marks those sections and keeps them exclusive should any of
them ever span a yield or move to a thread.

Expiry is lazy here: every read through `lookup` drops a key whose deadline has passed. The
active cycle lives in expiry.py and uses `sample_expired`.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

from gevent.lock import Semaphore

from valkdb.store.ageing import Ageing
from valkdb.store.stream import Stream


def now_ms() -> int:
    return int(time.time() * 1000)


class Changes:
    """The keyspace's count of changes (Redis's server.dirty): every write through the store
    adds to it, so the dispatcher can tell a command that changed something (and propagates)
    from one that did not; persistence counts the changes since the last save with it."""

    __slots__ = ("dirty",)

    def __init__(self) -> None:
        self.dirty = 0


class Shard:
    __slots__ = ("data", "expires", "access", "lock", "deletions")

    def __init__(self) -> None:
        self.data: dict[bytes, Any] = {}
        self.expires: dict[bytes, int] = {}
        self.access: dict[bytes, int] = {}
        self.lock = Semaphore()
        self.deletions = 0  # keys removed so far; SCAN cursors use it to stay complete


class Database:
    """One numbered database. Methods never yield; iteration hands out snapshots in chunks."""

    def __init__(self, index: int, nshards: int, on_deadline: Callable[[int], None],
                 changes: Changes, ageing: Ageing) -> None:
        self.index = index
        self.changes = changes
        self.ageing = ageing
        # The LRU clock every access stores, or -1 under an LFU policy (the counter then
        # changes per access): one int compare on the lookup path. Keyspace.tick sets it.
        self.lru = ageing.lru
        self.shards = [Shard() for _ in range(nshards)]
        self._n = nshards
        self._on_deadline = on_deadline  # tells the active-expiry greenlet of a new deadline
        self.expired = 0  # keys removed because their deadline passed (INFO expired_keys)
        self.watched: dict[bytes, dict[Any, None]] = {}  # key -> clients WATCHing it
        # Called with the key for every change signalled (client tracking's invalidation);
        # None when nobody listens.
        self.on_signal: Callable[[bytes], None] | None = None
        # Whether a change must be signalled at all: keys are WATCHed or tracking listens.
        self.observed = False
        self.blocked: dict[bytes, Any] = {}  # key -> deque of blocking.Waiter, oldest first
        # While a dataset loads nothing expires (Redis's keyIsExpired): replaying an AOF must
        # see the keys its commands saw, whatever their deadlines are by now.
        self.loading = False
        self.expiry_paused = False  # CLIENT PAUSE: expired keys are not deleted
        # Called with (db, key) for every key removed because its deadline passed, so a DEL
        # for it is propagated (as Redis propagates expiries); None when nobody listens.
        self.on_expired: Callable[[Database, bytes], None] | None = None
        # Called with (db, key) before store() creates a key that did not exist (Redis's dbAdd:
        # the `new` keyspace event); None when nobody listens.
        self.on_new: Callable[[Database, bytes], None] | None = None
        # Called with (db, key) when a read (`read`, `peek_read`) finds no key (Redis's
        # lookupKeyRead: the `keymiss` keyspace event); None when nobody listens.
        self.on_miss: Callable[[Database, bytes], None] | None = None
        # Called with (db, key) when a key clients block on is deleted or overwritten: an
        # XREADGROUP blocked on a stream that is gone must wake (Redis's dbGenericDelete and
        # dbOverwrite signal the key as ready).
        self.on_blocked_key_gone: Callable[[Database, bytes], None] | None = None

    def shard(self, key: bytes) -> Shard:
        return self.shards[hash(key) % self._n]

    # -- single keys ---------------------------------------------------------------------------

    def lookup(self, key: bytes) -> Any:
        """The live value of key, or None (deleting it first if its deadline has passed)."""
        shard = self.shards[hash(key) % self._n]
        value = shard.data.get(key)
        if value is None:
            return None
        if shard.expires:
            deadline = shard.expires.get(key)
            if deadline is not None and deadline <= now_ms() and not self.loading:
                self._expire(shard, key)
                return None
        lru = self.lru
        if lru >= 0:
            shard.access[key] = lru
        else:
            shard.access[key] = self.ageing.touched(shard.access.get(key, 0))
        return value

    def _expire(self, shard: Shard, key: bytes) -> None:
        """Remove a key found past its deadline (while clients are paused it only reads as
        missing: the dataset stays as it was, as Redis's expireIfNeeded)."""
        if self.expiry_paused:
            return
        del shard.data[key]
        del shard.expires[key]
        shard.access.pop(key, None)
        shard.deletions += 1
        self.expired += 1
        if self.observed:
            self.signal(key)
        if self.on_expired is not None:
            self.on_expired(self, key)

    def peek(self, key: bytes) -> Any:
        """lookup() that leaves the key's access time alone (Redis's LOOKUP_NOTOUCH: TYPE,
        EXISTS, TTL, OBJECT, MEMORY USAGE)."""
        shard = self.shards[hash(key) % self._n]
        field = shard.access.get(key)
        value = self.lookup(key)
        if value is not None and field is not None:
            shard.access[key] = field
        return value

    def read(self, key: bytes) -> Any:
        """lookup() for a command that reads the key: a miss is reported (on_miss)."""
        value = self.lookup(key)
        if value is None and self.on_miss is not None:
            self.on_miss(self, key)
        return value

    def peek_read(self, key: bytes) -> Any:
        """peek() that reports a miss, as read()."""
        value = self.peek(key)
        if value is None and self.on_miss is not None:
            self.on_miss(self, key)
        return value

    def access_field(self, key: bytes) -> int:
        """The key's LRU/LFU field (see ageing.py); call after a lookup found it live."""
        field = self.shards[hash(key) % self._n].access.get(key)
        return self.ageing.fresh() if field is None else field

    def set_access_field(self, key: bytes, field: int) -> None:
        self.shards[hash(key) % self._n].access[key] = field

    def store(self, key: bytes, value: Any) -> None:
        """Set key to value and drop any TTL, as SET does."""
        shard = self.shards[hash(key) % self._n]
        if self.blocked and key in self.blocked and self.on_blocked_key_gone is not None:
            self.on_blocked_key_gone(self, key)
        if shard.expires:  # one past its deadline expires first, as lookupKeyWrite
            deadline = shard.expires.get(key)
            if deadline is not None and deadline <= now_ms() and not self.loading:
                self._expire(shard, key)
        if self.on_new is not None and key not in shard.data:
            self.on_new(self, key)
        shard.data[key] = value
        if shard.expires:
            shard.expires.pop(key, None)
        # A new value starts its own age; under LFU an overwrite keeps the counter it had
        # (Redis's dbSetValue copies old->lru).
        lru = self.lru
        if lru >= 0:
            shard.access[key] = lru
        elif key not in shard.access:
            shard.access[key] = self.ageing.fresh()
        self.changes.dirty += 1
        if self.observed:
            self.signal(key)

    def replace(self, key: bytes, value: Any) -> None:
        """Set the value of a key, keeping its TTL (APPEND, INCR, SETRANGE, SET KEEPTTL)."""
        shard = self.shards[hash(key) % self._n]
        shard.data[key] = value
        lru = self.lru
        if lru >= 0:
            shard.access[key] = lru
        elif key not in shard.access:
            shard.access[key] = self.ageing.fresh()
        self.changes.dirty += 1
        if self.observed:
            self.signal(key)

    def overwrite_silently(self, key: bytes, value: Any) -> None:
        """Change an existing key's value without counting a change or telling its observers:
        what Redis leaves behind when a command edits a value in place and then fails half-way
        (PFADD on a corrupted HyperLogLog). Nothing propagates, WATCH does not fire."""
        self.shards[hash(key) % self._n].data[key] = value

    def delete(self, key: bytes) -> bool:
        """Remove a live key; False when there was none."""
        if self.lookup(key) is None:
            return False
        shard = self.shards[hash(key) % self._n]
        del shard.data[key]
        shard.expires.pop(key, None)
        shard.access.pop(key, None)
        shard.deletions += 1
        self.changes.dirty += 1
        if self.blocked and key in self.blocked and self.on_blocked_key_gone is not None:
            self.on_blocked_key_gone(self, key)
        if self.observed:
            self.signal(key)
        return True

    def contains(self, key: bytes) -> bool:
        return self.lookup(key) is not None

    def deadline(self, key: bytes) -> int | None:
        """The key's expiry in ms since the epoch, or None; call after lookup() found it live."""
        return self.shards[hash(key) % self._n].expires.get(key)

    def set_deadline(self, key: bytes, deadline: int, lazily: bool = False) -> None:
        """Give an existing key a TTL. A deadline already past deletes the key at once (EXPIRE),
        or with `lazily` when it is next looked up (SET's expiry, as Redis's setExpire)."""
        shard = self.shards[hash(key) % self._n]
        self.changes.dirty += 1
        if self.observed:
            self.signal(key)
        if deadline <= now_ms() and not self.loading and not lazily:
            if shard.data.pop(key, None) is not None:
                shard.deletions += 1
            shard.expires.pop(key, None)
            shard.access.pop(key, None)
            return
        shard.expires[key] = deadline
        self._on_deadline(deadline)

    def persist(self, key: bytes) -> bool:
        if self.shards[hash(key) % self._n].expires.pop(key, None) is None:
            return False
        self.changes.dirty += 1
        if self.observed:
            self.signal(key)
        return True

    def modified(self, key: bytes, count: int = 1) -> None:
        """A command changed the value at key in place (a collection's elements): `count`
        more changes (0: observers are told, but nothing propagates), and the key's observers
        learn of it. The methods above do this themselves."""
        self.changes.dirty += count
        if self.observed:
            self.signal(key)

    def count_changes(self, count: int = 1) -> None:
        """Changes that propagate but that no key observer sees: Redis's server.dirty++
        without signalModifiedKey (a consumer group's state: WATCH does not fire)."""
        self.changes.dirty += count

    def signal(self, key: bytes) -> None:
        """The key changed: a transaction WATCHing it will not run, and clients that may cache
        it are told (Redis's signalModifiedKey). The one place that tells a key's observers."""
        clients = self.watched.get(key)
        if clients:
            for client in clients:
                client.dirty_cas = True
        if self.on_signal is not None:
            self.on_signal(key)

    def watch(self, key: bytes, client: Any) -> None:
        self.watched.setdefault(key, {})[client] = None
        self.observed = True

    def unwatch(self, key: bytes, client: Any) -> None:
        clients = self.watched.get(key)
        if clients is not None:
            clients.pop(client, None)
            if not clients:
                del self.watched[key]
                self._update_observed()

    def set_on_signal(self, hook: Callable[[bytes], None] | None) -> None:
        self.on_signal = hook
        self._update_observed()

    def _update_observed(self) -> None:
        self.observed = bool(self.watched) or self.on_signal is not None

    def touch_watched(self) -> None:
        """FLUSHDB, SWAPDB: every WATCHed key that exists here changes (Redis's
        touchAllWatchedKeysInDb; tracking hears of a flush on its own)."""
        for key in list(self.watched):
            if self.lookup(key) is not None:
                for client in self.watched[key]:
                    client.dirty_cas = True

    # -- whole database ------------------------------------------------------------------------

    def size(self) -> int:
        """Keys held, expired ones not yet removed included (as Redis's DBSIZE)."""
        return sum(len(shard.data) for shard in self.shards)

    def expires_count(self) -> int:
        return sum(len(shard.expires) for shard in self.shards)

    def key_chunks(self, chunk: int = 10000, live_only: bool = False) -> Iterator[list[bytes]]:
        """Every key, as snapshots of at most `chunk` keys; the caller may yield between them.

        With live_only, each chunk is checked as it is handed out: keys deleted since the
        snapshot and keys past their deadline (left for expiry to delete, as Redis's KEYS
        does) are left out.
        """
        for shard in self.shards:
            with shard.lock:
                keys = list(shard.data)
            for start in range(0, len(keys), chunk):
                part = keys[start : start + chunk]
                if live_only:
                    part = list(filter(shard.data.__contains__, part))
                    if shard.expires:
                        now = now_ms()
                        deadline_of = shard.expires.get
                        part = [k for k in part if (d := deadline_of(k)) is None or d > now]
                yield part

    def shard_keys(self, index: int) -> list[bytes]:
        """A snapshot of one shard's keys (SCAN walks the shards one by one)."""
        shard = self.shards[index]
        with shard.lock:
            return list(shard.data)

    def clear_shards(self) -> Iterator[None]:
        """Empty the database shard by shard, yielding control points between shards."""
        if self.watched:
            self.touch_watched()
        self._signal_lost_streams(None)
        for shard in self.shards:
            with shard.lock:
                self.changes.dirty += len(shard.data)
                shard.deletions += len(shard.data)
                shard.data, shard.expires, shard.access = {}, {}, {}
            yield

    def swap(self, other: Database) -> None:
        """SWAPDB: exchange contents, so clients that selected either index see the other's data."""
        for db in (self, other):
            for key in list(db.watched):
                if self.lookup(key) is not None or other.lookup(key) is not None:
                    for client in db.watched[key]:
                        client.dirty_cas = True
        self._signal_lost_streams(other)
        other._signal_lost_streams(self)
        self.shards, other.shards = other.shards, self.shards
        self.changes.dirty += 1

    def _signal_lost_streams(self, replaced_with: Database | None) -> None:
        """A flush or swap is about to replace this database's data: a client blocked here
        on a stream that will be gone (or no stream) must wake, as Redis's
        scanDatabaseForDeletedStreams makes XREADGROUP answer."""
        if not self.blocked or self.on_blocked_key_gone is None:
            return
        for key in list(self.blocked):
            if type(self.lookup(key)) is Stream and (
                    replaced_with is None or type(replaced_with.lookup(key)) is not Stream):
                self.on_blocked_key_gone(self, key)

    def random_key(self) -> bytes | None:
        """A live key chosen at random (weighted by shard size), or None when there is none.

        Like Redis, gives up after many tries on a database full of keys that have expired.
        """
        for _ in range(100):
            sizes = [len(shard.data) for shard in self.shards]
            total = sum(sizes)
            if not total:
                return None
            pick = random.randrange(total)
            for shard, size in zip(self.shards, sizes, strict=True):
                if pick < size:
                    key = next(itertools.islice(iter(shard.data), pick, None))
                    if self.lookup(key) is not None:
                        return key
                    break
                pick -= size
        return None

    def sample_expired(self, count: int, now: int) -> tuple[int, int]:
        """Active expiry: look at up to `count` keys with a TTL from a random shard and offset;
        delete those past their deadline. Returns (sampled, expired)."""
        candidates = [shard for shard in self.shards if shard.expires]
        if not candidates:
            return 0, 0
        shard = random.choice(candidates)
        with shard.lock:
            expires = shard.expires
            start = random.randrange(len(expires)) if len(expires) > count else 0
            sample = list(itertools.islice(expires.items(), start, start + count))
            expired = 0
            for key, deadline in sample:
                if deadline <= now:
                    del expires[key]
                    del shard.data[key]
                    shard.access.pop(key, None)
                    expired += 1
                    if self.observed:
                        self.signal(key)
                    if self.on_expired is not None:
                        self.on_expired(self, key)
            shard.deletions += expired
        self.expired += expired
        return len(sample), expired


class Keyspace:
    """All databases of the server."""

    def __init__(self, databases: int, nshards: int, on_deadline: Callable[[int], None]) -> None:
        self.changes = Changes()
        self.ageing = Ageing()
        self.dbs = [Database(i, nshards, on_deadline, self.changes, self.ageing)
                    for i in range(databases)]

    def tick(self, now: float | None = None) -> None:
        """Advance the ageing clock (the server's cron, hz times a second)."""
        ageing = self.ageing
        ageing.tick(now)
        lru = -1 if ageing.lfu else ageing.lru
        for db in self.dbs:
            db.lru = lru

    def configure_ageing(self, lfu: bool, log_factor: int, decay_time: int) -> None:
        self.ageing.configure(lfu, log_factor, decay_time)
        self.tick()

    def set_loading(self, loading: bool) -> None:
        for db in self.dbs:
            db.loading = loading

    def set_on_expired(self, hook: Callable[[Database, bytes], None] | None) -> None:
        for db in self.dbs:
            db.on_expired = hook

    def set_on_new(self, hook: Callable[[Database, bytes], None] | None) -> None:
        for db in self.dbs:
            db.on_new = hook

    def set_on_miss(self, hook: Callable[[Database, bytes], None] | None) -> None:
        for db in self.dbs:
            db.on_miss = hook

    def set_expiry_paused(self, paused: bool) -> None:
        for db in self.dbs:
            db.expiry_paused = paused

    def set_on_signal(self, hook: Callable[[bytes], None] | None) -> None:
        for db in self.dbs:
            db.set_on_signal(hook)

    def set_on_blocked_key_gone(self, hook: Callable[[Database, bytes], None]) -> None:
        for db in self.dbs:
            db.on_blocked_key_gone = hook

    def __len__(self) -> int:
        return len(self.dbs)

    def __getitem__(self, index: int) -> Database:
        return self.dbs[index]
