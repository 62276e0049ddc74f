"""The LRU/LFU arithmetic of valkdb.store.ageing at its edges: the 24-bit clock wrapping, the
16-bit minute counter wrapping, decay and RESTORE's fields."""

from __future__ import annotations

from valkdb.store.ageing import LFU_INIT_VAL, LRU_CLOCK_MAX, Ageing


def test_idle_time_across_the_clock_wrap():
    ageing = Ageing()
    ageing.lru = 10
    assert ageing.idle_seconds(5) == 5
    assert ageing.idle_seconds(LRU_CLOCK_MAX - 20) == 30  # accessed just before the wrap


def test_restored_idle_time_wraps_like_the_bit_field():
    ageing = Ageing()
    ageing.lru = 100
    field = ageing.restored(None, 1000)
    assert field == 100 - 1000 + LRU_CLOCK_MAX
    assert ageing.idle_seconds(field) == 1000
    assert ageing.restored(50, None) is None  # FREQ means nothing under LRU


def test_frequency_decays_per_period_and_across_the_minute_wrap():
    ageing = Ageing()
    ageing.configure(True, 10, 2)
    ageing.minutes = 3
    field = (65535 - 3) << 8 | 20  # last decremented 6 minutes ago, before the wrap
    assert ageing.frequency(field) == 20 - 6 // 2
    ageing.configure(True, 10, 0)
    assert ageing.frequency(field) == 20  # lfu-decay-time 0: no decay


def test_fresh_and_touched_counters():
    ageing = Ageing()
    ageing.configure(True, 0, 1)
    field = ageing.fresh()
    assert ageing.frequency(field) == LFU_INIT_VAL
    for _ in range(300):
        field = ageing.touched(field)
    assert ageing.frequency(field) == 255  # a factor of 0 counts every access, up to 255
    ageing.configure(True, 1_000_000_000, 1)
    grown = sum(ageing.frequency(ageing.touched(LFU_INIT_VAL + 100 | ageing.minutes << 8))
                > LFU_INIT_VAL + 100 for _ in range(1000))
    assert grown <= 2  # a huge factor: an increment is all but impossible
