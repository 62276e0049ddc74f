"""The HyperLogLog steps of test_propagation_diff.py's corpus (same syntax, checked against
redis-server 7.0.15 first). PFCOUNT is flagged read-only, yet Redis logs it when it writes the
cached cardinality into the header; PFDEBUG logs when it changes the encoding.
"""

from __future__ import annotations

# PFMERGE counts a change whenever it succeeds (hyperloglog.c: server.dirty++).
ALWAYS_PROPAGATED_HYPERLOGLOG = frozenset(("pfmerge",))

_HALF_SPARSE = "HYLL\x01\x00\x00\x00" + "\x00" * 8 + "\x5f\xff"  # one XZERO of 8192

HYPERLOGLOG: dict[str, list[str | tuple[str, ...]]] = {
    "pfadd": [
        "+ PFADD h a b", "- PFADD h a", "- PFADD h", "+ PFADD new", "- PFADD new",
        "+ RPUSH l x", "! PFADD l a", "+ SET s hello", "! PFADD s a"],
    "pfcount writes its cache": [
        "- PFCOUNT missing", "+ PFADD h a", "+ PFCOUNT h", "- PFCOUNT h", "- PFCOUNT h missing",
        "+ PFADD h b", "+ PFCOUNT h", "+ RPUSH l x", "! PFCOUNT l", "! PFCOUNT h l"],
    "pfmerge": [
        "+ PFMERGE d", "+ PFMERGE d", "+ PFADD a x y", "+ PFMERGE d a missing", "+ PFMERGE d a",
        "+ RPUSH l x", "! PFMERGE d l", "! PFMERGE l a"],
    "pfdebug": [
        "! PFDEBUG ENCODING missing", "+ PFADD h a", "- PFDEBUG ENCODING h",
        "- PFDEBUG DECODE h", "! PFDEBUG BOGUS h", "+ PFDEBUG TODENSE h", "- PFDEBUG TODENSE h",
        "- PFDEBUG GETREG h", "! PFDEBUG DECODE h", "+ PFADD g a", "+ PFDEBUG GETREG g"],
    # e covers registers 0-8191 only: PFADD raises d's register (7292), then fails on a's
    # (12711) and logs nothing, though the value changed (d's register stays raised).
    "corrupted hyperloglogs": [
        f"+ SET e {_HALF_SPARSE}", "! PFADD e d a", "! PFCOUNT e", "! PFDEBUG TODENSE e",
        "! PFMERGE d e", "- EXISTS d", "- PFADD e d", "+ PFADD e f"],
    "hyperloglogs in a transaction and a script": [
        "- MULTI", "- PFADD h a", "- PFCOUNT h", "- PFMERGE d h", "+ EXEC",
        "+ EVAL \"redis.call('PFADD', KEYS[1], 'b') return redis.call('PFCOUNT', KEYS[1])\" 1 h"],
}
