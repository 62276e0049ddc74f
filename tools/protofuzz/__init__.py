"""Differential protocol fuzzer: the same generated requests to valkdb and to a real redis-server.

`cases` makes the requests (well-formed commands, then mutated: truncations, bad lengths, stray
type markers, CR/LF confusion, nested arrays, inline edge cases), `globs` the glob patterns for
KEYS, SCAN MATCH and PSUBSCRIBE, `wire` talks to a server, `runner` compares the two servers and
watches valkdb (crashes, hangs, tracebacks). Every case is a pure function of (seed, index), so a
run is repeatable and one case can be regenerated alone.

Used by tests/protocol/test_fuzz_differential.py (a CI-sized run) and tools/proto_fuzz.py (long
runs); it imports nothing from tests/, the callers start the servers.
"""

from .runner import Report, Target, compare_payload, run, start_pair

__all__ = ["Report", "Target", "compare_payload", "run", "start_pair"]
