"""Active expiry: a background greenlet that samples keys with a TTL, as Redis's activeExpireCycle.

Every 1/hz seconds (and earlier when a nearer deadline is set) it samples 20 keys with a TTL per
round (+5 per extra active-expire-effort), deletes those past their deadline, and samples the
same database again while more than 10 % of a sample had expired (minus 1 point per extra effort),
within a time budget of 25 % of the tick (+2 points per extra effort). It yields between rounds
so a big expiry wave never stalls the clients.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import gevent
from gevent.event import Event

from valkdb.store.keyspace import now_ms

if TYPE_CHECKING:
    from valkdb.config import Config
    from valkdb.store.keyspace import Keyspace


class ActiveExpiry:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.keyspace: Keyspace | None = None
        self.enabled = True  # DEBUG SET-ACTIVE-EXPIRE
        # Called after each round of deletions: the server sends their DELs down its bus.
        self.after_round: Callable[[], None] = lambda: None
        # True while the keyspace must not change behind a running command (a long script).
        self.paused: Callable[[], bool] = lambda: False
        self._wake = Event()
        self._wake_at = 0.0  # ms since epoch when the greenlet will next run

    def note_deadline(self, deadline: int) -> None:
        """Called for every TTL set: wake the greenlet early if this deadline comes first."""
        if deadline < self._wake_at:
            self._wake_at = deadline
            self._wake.set()

    def run(self) -> None:
        while True:
            tick = 1.0 / self.config.hz
            self._wake_at = now_ms() + tick * 1000
            while True:  # sleep until _wake_at, which note_deadline may move earlier
                self._wake.clear()
                delay = (self._wake_at - now_ms()) / 1000
                if delay <= 0:
                    break
                self._wake.wait(delay)
            if self.enabled and self.keyspace is not None and not self.paused():
                self.cycle(tick)

    def cycle(self, tick: float) -> None:
        effort = self.config.active_expire_effort - 1
        per_round = 20 + 5 * effort
        stale_percent = 10 - effort
        budget = tick * (25 + 2 * effort) / 100
        started = time.monotonic()
        assert self.keyspace is not None
        for db in self.keyspace.dbs:
            rounds = 0
            while True:
                sampled, expired = db.sample_expired(per_round, now_ms())
                if expired:
                    self.after_round()
                if not sampled or expired * 100 <= sampled * stale_percent:
                    break
                rounds += 1
                if rounds % 16 == 0:
                    if time.monotonic() - started > budget:
                        return
                    gevent.sleep(0.0001)  # a timer: sleep(0) may skip I/O polling
