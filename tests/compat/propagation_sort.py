"""SORT's steps of test_propagation_diff.py's corpus (same syntax, checked against
redis-server 7.0.15 first).

Only SORT ... STORE changes anything: it is logged as it came when it stored a result or
deleted the destination (an empty result); a SORT without STORE, SORT_RO, and a STORE of
nothing over a missing destination log nothing."""

from __future__ import annotations

SORT: dict[str, list[str | tuple[str, ...]]] = {
    "sort": ["+ RPUSH l 3 1 2", "- SORT l", "- SORT l DESC LIMIT 0 2", "+ SORT l STORE d",
             "+ SORT l DESC STORE d", "+ SORT l BY nosort LIMIT 1 1 STORE l",
             "- SORT missing STORE e", "+ SORT missing STORE d", "- SORT missing STORE d",
             "+ SADD s b a c", "+ SORT s BY nosort STORE d", "+ SET w_a 3",
             "+ SORT s BY w_* GET # GET w_* STORE d", "! SORT l STORE", "! SORT l LIMIT x 1",
             "+ SET str x", "! SORT str STORE d", "! SORT l BOGUS", "+ SADD t x y",
             "! SORT t STORE d", "- SORT_RO l", "! SORT_RO l STORE d",
             "+ SORT l LIMIT 5 1 STORE d", "- SORT l LIMIT 5 1 STORE d"],
    "sort in a transaction": ["- MULTI", "- SORT missing STORE d", "- RPUSH l 2 1",
                              "- SORT l STORE d", "+ EXEC"],
}
