"""How recently and how often each key was used: Redis's LRU clock and LFU counter.

Redis keeps, in every value's 24-bit `lru` field, either the LRU clock (seconds, wrapping at
2^24) at the last access, or, under an LFU maxmemory policy, the minute of the last decrement
(16 bits) and a logarithmic access counter (8 bits). OBJECT IDLETIME and OBJECT FREQ read that
field, RESTORE IDLETIME / FREQ set it, and eviction will sample it. valkdb keeps the same 24-bit
number per key (the keyspace's `access` dicts) and interprets it with the same arithmetic, so
the figures wrap, decay and grow as Redis's do.

The clock is read from here rather than from the system on every access: the server's cron
advances it (as serverCron updates server.lruclock), so a lookup only stores an int.
"""

from __future__ import annotations

import random
import time

LRU_CLOCK_MAX = (1 << 24) - 1  # the lru field's width
LFU_INIT_VAL = 5  # a new key's counter, so it is not evicted before it had a chance
_MINUTES_MAX = 65535


def lru_clock(now: float | None = None) -> int:
    """The LRU clock: seconds since the epoch, wrapped to 24 bits."""
    return int(time.time() if now is None else now) & LRU_CLOCK_MAX


class Ageing:
    """The ageing settings and clock the keyspace's databases share."""

    __slots__ = ("lru", "lfu", "log_factor", "decay_time", "minutes")

    def __init__(self) -> None:
        self.lfu = False  # an LFU maxmemory policy is selected
        self.log_factor = 10
        self.decay_time = 1
        self.lru = 0
        self.minutes = 0
        self.tick()

    def configure(self, lfu: bool, log_factor: int, decay_time: int) -> None:
        self.lfu, self.log_factor, self.decay_time = lfu, log_factor, decay_time

    def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.lru = lru_clock(now)
        self.minutes = int(now // 60) & _MINUTES_MAX

    def fresh(self) -> int:
        """The field of a value just created."""
        return self.minutes << 8 | LFU_INIT_VAL if self.lfu else self.lru

    def touched(self, field: int) -> int:
        """The LFU field after one more access: decayed, then incremented with a probability
        that falls as the counter grows (lfu-log-factor)."""
        counter = self.frequency(field)
        if counter < 255:
            base = max(counter - LFU_INIT_VAL, 0)
            if random.random() < 1.0 / (base * self.log_factor + 1):
                counter += 1
        return self.minutes << 8 | counter

    def frequency(self, field: int) -> int:
        """OBJECT FREQ: the counter less one for every lfu-decay-time minutes since it was
        last decremented."""
        counter = field & 255
        if self.decay_time:
            last = field >> 8
            elapsed = (self.minutes - last if self.minutes >= last
                       else _MINUTES_MAX - last + self.minutes)
            counter = max(counter - elapsed // self.decay_time, 0)
        return counter

    def idle_seconds(self, field: int) -> int:
        """OBJECT IDLETIME: seconds since the access the LRU field records (the clock wraps)."""
        if self.lru >= field:
            return self.lru - field
        return self.lru + LRU_CLOCK_MAX - field

    def restored(self, frequency: int | None, idle: int | None) -> int | None:
        """The field RESTORE's FREQ or IDLETIME asks for, or None to keep a fresh one: FREQ
        counts only under an LFU policy, IDLETIME only otherwise."""
        if self.lfu:
            return None if frequency is None else self.minutes << 8 | frequency
        if idle is None:
            return None
        field = self.lru - idle
        if field < 0:
            field += LRU_CLOCK_MAX
        return field & LRU_CLOCK_MAX  # Redis's bit field keeps the low 24 bits
