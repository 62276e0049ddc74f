"""RESTORE's and MIGRATE's steps of test_propagation_diff.py's corpus (same syntax, checked
against redis-server 7.0.15 first): a relative TTL is logged as an absolute one with ABSTTL, a
RESTORE that replaces a key with one already expired as a DEL, a MIGRATE as a DEL of the keys
the target took (nothing with COPY)."""

from __future__ import annotations

import shlex

from valkdb.persistence.rdb import value_payload

_VALUE = shlex.quote(value_payload(b"v").decode("latin-1"))

DUMP: dict[str, list[str | tuple[str, ...]]] = {
    "restore": [f"+ RESTORE r 0 {_VALUE}", f"! RESTORE r 0 {_VALUE}",
                f"+ RESTORE r 100000 {_VALUE} REPLACE",
                f"+ RESTORE r {{ms+100000}} {_VALUE} REPLACE ABSTTL",
                f"- RESTORE gone {{ms-1000}} {_VALUE} ABSTTL",
                f"+ RESTORE r {{ms-1000}} {_VALUE} ABSTTL REPLACE",
                "! RESTORE r 0 bad REPLACE", f"! RESTORE r -1 {_VALUE} REPLACE"],
    "restore-asking": [f"+ RESTORE-ASKING q 0 {_VALUE}", f"! RESTORE-ASKING q 0 {_VALUE}",
                       f"- RESTORE-ASKING gone {{ms-1000}} {_VALUE} ABSTTL"],
    "migrate": ["- MIGRATE 127.0.0.1 {target} nokey 0 1000", "+ SET m v",
                "+ MIGRATE 127.0.0.1 {target} m 0 1000 REPLACE", "+ SET m v",
                "- MIGRATE 127.0.0.1 {target} m 0 1000 REPLACE COPY",
                "+ MIGRATE 127.0.0.1 {target} '' 0 1000 REPLACE KEYS m nokey",
                "! MIGRATE 127.0.0.1 {target} m 0 1000 FOO"],
}
