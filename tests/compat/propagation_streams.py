"""The stream steps of test_propagation_diff.py's corpus (same syntax, checked against
redis-server 7.0.15 first). IDs are explicit so that what XADD logs does not depend on a clock;
XREADGROUP and XCLAIM log XCLAIM ... TIME <ms>, which the comparison treats as a deadline.
"""

from __future__ import annotations

# Stream writes that count a change whenever they succeed (t_stream.c: server.dirty++):
# no no-op exists for them.
ALWAYS_PROPAGATED_STREAMS = frozenset(("xsetid", "xgroup|create", "xgroup|setid"))

STREAMS: dict[str, list[str | tuple[str, ...]]] = {
    "xadd: explicit and ms-* IDs, each logged as the ID assigned": [
        "+ XADD s 1-1 f v", "+ XADD s 1-* f v", "+ XADD s 2-* f v g w", "! XADD s 1-1 f v",
        "! XADD s 0-0 f v", "! XADD s 3-1 f", "- XADD missing NOMKSTREAM 1-1 f v",
        "+ XADD s NOMKSTREAM 3-1 f v", "+ SET k x", "! XADD k 1-1 f v"],
    "xadd: approximate trimming is logged as its exact effect": [
        "- CONFIG SET stream-node-max-entries 2", "+ XADD s 1-1 f v", "+ XADD s 2-1 f v",
        "+ XADD s 3-1 f v", "+ XADD s 4-1 f v", "+ XADD s 5-1 f v",
        "+ XADD s MAXLEN ~ 2 6-1 f v", "+ XADD s MINID ~ 5-1 7-1 f v",
        "+ XADD s MAXLEN = 3 8-1 f v", "+ XADD s MINID ~ 8-1 LIMIT 0 9-1 f v",
        "! XADD s MAXLEN = 1 LIMIT 1 10-1 f v", "+ XADD s MAXLEN ~ 1 LIMIT 1 10-1 f v", "- XLEN s",
        "- CONFIG SET stream-node-max-entries 100"],
    "xtrim": [
        "- XTRIM missing MAXLEN 0", "+ XADD s 1-1 f v", "+ XADD s 2-1 f v", "+ XADD s 3-1 f v",
        "- XTRIM s MAXLEN 5", "- XTRIM s MAXLEN ~ 1", "+ XTRIM s MAXLEN 2",
        "+ XTRIM s MINID 3-1", "- XTRIM s MINID 3-1", "! XTRIM s LIMIT 1",
        "! XTRIM s MAXLEN -1", "+ XTRIM s MAXLEN 0", "- EXISTS s"],
    "xdel": [
        "- XDEL missing 1-1", "+ XADD s 1-1 f v", "+ XADD s 2-1 f v", "- XDEL s 9-9",
        "+ XDEL s 1-1 9-9", "+ XDEL s 2-1", "- XDEL s 2-1", "! XDEL s bad", "- EXISTS s"],
    "xsetid": [
        "! XSETID missing 1-1", "+ XADD s 5-1 f v", "+ XSETID s 9-9", "+ XSETID s 9-9",
        "! XSETID s 1-1", "+ XSETID s 10-0 ENTRIESADDED 7 MAXDELETEDID 3-0",
        "! XSETID s 11-0 ENTRIESADDED 0"],
    "xgroup create, setid, destroy": [
        "! XGROUP CREATE missing g $", "+ XGROUP CREATE s g $ MKSTREAM",
        "! XGROUP CREATE s g $", "+ XGROUP CREATE s h 0 ENTRIESREAD 0",
        "+ XADD s 1-1 f v", "+ XGROUP SETID s g 0", "+ XGROUP SETID s g $ ENTRIESREAD 1",
        "! XGROUP SETID s nog 0", "- XGROUP DESTROY s nog", "+ XGROUP DESTROY s g",
        "- XGROUP DESTROY s g"],
    "xgroup createconsumer and delconsumer": [
        "+ XGROUP CREATE s g $ MKSTREAM", "+ XGROUP CREATECONSUMER s g c1",
        "- XGROUP CREATECONSUMER s g c1", "! XGROUP CREATECONSUMER s nog c1",
        "- XGROUP DELCONSUMER s g nobody", "+ XGROUP DELCONSUMER s g c1",
        "- XGROUP DELCONSUMER s g c1"],
    "xreadgroup: new entries, history, NOACK": [
        "+ XADD s 1-1 f v", "+ XADD s 2-1 f v", "+ XGROUP CREATE s g 0",
        "- XREADGROUP GROUP g c1 STREAMS s 0", "+ XREADGROUP GROUP g c1 COUNT 1 STREAMS s >",
        "- XREADGROUP GROUP g c1 STREAMS s 0", "+ XREADGROUP GROUP g c2 NOACK STREAMS s >",
        "- XREADGROUP GROUP g c2 STREAMS s >", "+ XADD s 3-1 f v",
        "+ XREADGROUP GROUP g c3 NOACK STREAMS s >", "! XREADGROUP GROUP nog c STREAMS s >"],
    "xreadgroup served by a later xadd": [
        "+ XGROUP CREATE s g $ MKSTREAM", "- A> XREADGROUP GROUP g c BLOCK 0 STREAMS s >",
        ("+ B: XADD s 1-1 f v", "A<")],
    "xack": [
        "- XACK missing g 1-1", "+ XADD s 1-1 f v", "+ XADD s 2-1 f v",
        "+ XGROUP CREATE s g 0", "+ XREADGROUP GROUP g c STREAMS s >", "- XACK s g 9-9",
        "- XACK s nog 1-1", "+ XACK s g 1-1 9-9", "- XACK s g 1-1", "! XACK s g bad"],
    "xclaim": [
        "+ XADD s 1-1 f v", "+ XADD s 2-1 f v", "+ XGROUP CREATE s g 0",
        "+ XREADGROUP GROUP g c1 STREAMS s >", "- XCLAIM s g c2 3600000 1-1",
        "+ XCLAIM s g c2 0 1-1", "+ XCLAIM s g c2 0 2-1 JUSTID", "- XCLAIM s g c2 0 9-9",
        "- XCLAIM s g c3 0 9-9 FORCE", "+ XCLAIM s g c3 0 1-1 IDLE 5000 RETRYCOUNT 7",
        "+ XCLAIM s g c1 0 2-1 TIME {ms-1000} LASTID 5-0", "! XCLAIM s nog c 0 1-1",
        "! XCLAIM s g c x 1-1", "+ XDEL s 1-1", "+ XCLAIM s g c1 0 1-1"],
    "xautoclaim": [
        "! XAUTOCLAIM missing g c 0 0", "+ XADD s 1-1 f v", "+ XADD s 2-1 f v",
        "+ XADD s 3-1 f v", "+ XGROUP CREATE s g 0", "+ XREADGROUP GROUP g c1 STREAMS s >",
        "- XAUTOCLAIM s g c2 3600000 0", "+ XAUTOCLAIM s g c2 0 0 COUNT 1",
        "+ XAUTOCLAIM s g c2 0 0 JUSTID", "+ XDEL s 3-1", "+ XAUTOCLAIM s g c3 0 0",
        "! XAUTOCLAIM s g c 0 0 COUNT 0", "! XAUTOCLAIM s nog c 0 0"],
    "streams in a transaction and a script": [
        "- MULTI", "- XADD s 1-1 f v", "- XGROUP CREATE s g 0",
        "- XREADGROUP GROUP g c STREAMS s >",
        "+ EXEC", "+ EVAL \"redis.call('XADD', KEYS[1], '2-1', 'f', 'v') "
        "return redis.call('XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', KEYS[1], '>')\" 1 s"],
}
