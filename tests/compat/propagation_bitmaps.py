"""The bit commands' steps of test_propagation_diff.py's corpus (same syntax, checked against
redis-server 7.0.15 first): a write that changes no bit logs nothing, as in Redis."""

from __future__ import annotations

BITMAPS: dict[str, list[str | tuple[str, ...]]] = {
    "setbit": ["+ SETBIT b 7 1", "- SETBIT b 7 1", "+ SETBIT b 7 0", "- SETBIT b 3 0",
               "+ SETBIT b 100 0", "! SETBIT b -1 1", "! SETBIT b 1 2", "+ SET k x",
               "+ LPUSH l x", "! SETBIT l 0 1"],
    "bitop": ["- BITOP AND d missing", "+ SET a abc", "+ BITOP NOT d a", "+ BITOP AND d a d",
              "+ BITOP AND d missing", "- BITOP OR d missing", "! BITOP NAND d a",
              "! BITOP NOT d a a"],
    "bitfield": ["- BITFIELD b GET u8 0", "+ BITFIELD b SET u8 0 5", "- BITFIELD b SET u8 0 5",
                 "+ BITFIELD b INCRBY i4 0 1", "- BITFIELD b INCRBY i4 0 0",
                 "- BITFIELD b OVERFLOW FAIL INCRBY u2 0 100", "! BITFIELD b GET x8 0",
                 "! BITFIELD_RO b SET u8 0 1", "- BITFIELD_RO b GET u8 0"],
}
