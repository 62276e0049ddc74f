"""LCS against redis-server 7.0.15, RESP2 and RESP3: the string, LEN, IDX with MINMATCHLEN and
WITHMATCHLEN (ranges in Redis's order), missing keys, wrong types and option errors."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compat.test_strings_keys import COMPAT_SETTINGS

texts = st.text(alphabet="abcx", max_size=12).map(str.encode)
options = st.lists(st.sampled_from([(b"LEN",), (b"IDX",), (b"WITHMATCHLEN",), (b"idx",),
                                    (b"MINMATCHLEN", b"2"), (b"MINMATCHLEN", b"0"),
                                    (b"MINMATCHLEN", b"-3"), (b"MINMATCHLEN", b"x"),
                                    (b"MINMATCHLEN",), (b"BOGUS",)]), max_size=3).map(
    lambda drawn: tuple(a for option in drawn for a in option))


@settings(COMPAT_SETTINGS, max_examples=200)
@given(texts, texts, options)
def test_lcs(differ, a, b, opts):
    differ.reset()
    differ.check(b"SET", b"a", a)
    differ.check(b"SET", b"b", b)
    differ.check(b"LCS", b"a", b"b", *opts)


def test_lcs_edges(differ):
    differ.reset()
    differ.check(b"MSET", b"k1", b"ohmytext", b"k2", b"mynewtext")
    differ.check(b"RPUSH", b"l", b"x")
    for args in [(b"k1", b"k2"), (b"k1", b"k2", b"LEN"), (b"k1", b"k2", b"IDX"),
                 (b"k1", b"k2", b"IDX", b"MINMATCHLEN", b"4", b"WITHMATCHLEN"),
                 (b"k1", b"missing"), (b"missing", b"missing", b"IDX"), (b"k1", b"l"),
                 (b"l", b"k1", b"BOGUS"), (b"k1", b"k2", b"LEN", b"IDX")]:
        differ.check(b"LCS", *args)
