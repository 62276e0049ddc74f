"""Streams for the persistence tests: one command script that builds every shape a stream file
must carry (run the same way on valkdb and on redis-server), and the replies that describe a
stream completely, to compare two servers.

The servers run with stream-node-max-entries 4 (NODE_ARGS), so streams span many listpack
nodes and deletions leave tombstones at a node's start, middle and end."""

from __future__ import annotations

from typing import Any

import redis

from tests.persistence.servers import connect

NODE_ARGS = ("--stream-node-max-entries", "4")
BIG = 2**64 - 1
# (db, key) of every stream the script builds
KEYS = [(0, b"s:groups"), (0, b"s:trimmed"), (0, b"s:zero-live-node"), (0, b"s:emptied"),
        (0, b"s:only-groups"), (0, b"s:edges"), (3, b"s:ttl"), (3, b"s:fields"),
        (3, b"s:many")]


def _groups(c: Any) -> None:
    key = "s:groups"
    for i in range(1, 31):
        c.execute_command("XADD", key, f"{i}-{i % 3}", "name", f"n{i}", "value", i * 7 - 50)
    c.execute_command("XGROUP", "CREATE", key, "g1", "0")
    c.execute_command("XREADGROUP", "GROUP", "g1", "c1", "COUNT", "10", "STREAMS", key, ">")
    c.execute_command("XREADGROUP", "GROUP", "g1", "c2", "COUNT", "5", "STREAMS", key, ">")
    c.execute_command("XACK", key, "g1", "2-2", "3-0", "12-0")
    c.execute_command("XCLAIM", key, "g1", "c2", "0", "4-1", "5-2", "RETRYCOUNT", "7")
    c.execute_command("XGROUP", "CREATECONSUMER", key, "g1", "c3")
    c.execute_command("XGROUP", "CREATE", key, "g2", "$", "ENTRIESREAD", "25")
    c.execute_command("XGROUP", "CREATE", key, "g3", "0")
    c.execute_command("XGROUP", "CREATE", key, "12345", "7-1")  # an int-encoded name
    c.execute_command("XREADGROUP", "GROUP", "12345", "678", "COUNT", "3", "STREAMS", key, ">")
    # a pending entry deleted from the stream, a node's first, middle and last entries, the
    # stream's last entry, a whole node
    c.execute_command("XDEL", key, "6-0", "9-0", "13-1", "14-2", "16-1", "30-0")
    c.execute_command("XDEL", key, "17-2", "18-0", "19-1", "20-2")
    c.execute_command("XREADGROUP", "GROUP", "g3", "c9", "COUNT", "2", "NOACK", "STREAMS",
                      key, ">")


def _trimmed(c: Any) -> None:
    key = "s:trimmed"
    for i in range(1, 51):
        c.execute_command("XADD", key, f"{1700000000000 + i}-*", "i", i)
    c.execute_command("XTRIM", key, "MAXLEN", "17")  # tombstones in the first node
    c.execute_command("XADD", key, "MAXLEN", "~", "9", "1800000000000-0", "i", "last")
    c.execute_command("XGROUP", "CREATE", key, "g", "0")


def _zero_live_node(c: Any) -> None:
    """A node whose entries are all tombstones, its last one past MINID."""
    key = "s:zero-live-node"
    for i in range(1, 13):
        c.execute_command("XADD", key, f"{i}-0", "f", i)
    c.execute_command("XDEL", key, "8-0")
    c.execute_command("XTRIM", key, "MINID", "8")


def _emptied(c: Any) -> None:
    key = "s:emptied"
    for i in range(1, 6):
        c.execute_command("XADD", key, f"5-{i}", "f", "v")
    c.execute_command("XGROUP", "CREATE", key, "g", "0")
    c.execute_command("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", key, ">")
    c.execute_command("XDEL", key, *[f"5-{i}" for i in range(1, 6)])


def _only_groups(c: Any) -> None:
    key = "s:only-groups"
    c.execute_command("XGROUP", "CREATE", key, "g", "$", "MKSTREAM")
    c.execute_command("XGROUP", "CREATE", key, "h", "0", "ENTRIESREAD", "0")
    c.execute_command("XGROUP", "CREATECONSUMER", key, "g", "alice")
    c.execute_command("XGROUP", "CREATECONSUMER", key, "g", "bob")


def _edges(c: Any) -> None:
    """IDs whose deltas from the node's master ID are negative or need 64 bits."""
    key = "s:edges"
    for entry_id in ("5-100", "6-0", "6-18446744073709551615", f"{2**40}-3",
                     f"{BIG - 1}-{BIG}", f"{BIG}-0", f"{BIG}-7", f"{BIG}-{BIG - 1}"):
        c.execute_command("XADD", key, entry_id, "k", entry_id)
    c.execute_command("XDEL", key, "5-100")
    c.execute_command("XSETID", key, f"{BIG}-{BIG}", "ENTRIESADDED", "20", "MAXDELETEDID",
                      f"{BIG}-{BIG - 2}")
    c.execute_command("XGROUP", "CREATE", key, "g", f"{BIG}-7", "ENTRIESREAD", "-1")


def _ttl(c: Any) -> None:
    c.execute_command("XADD", "s:ttl", "1-1", "a", "b")
    c.execute_command("PEXPIREAT", "s:ttl", "4102444800000")


def _fields(c: Any) -> None:
    """Values of every listpack encoding, entries with other fields than the master's."""
    key = "s:fields"
    values = [b"", b"0", b"-1", b"127", b"128", b"-4096", b"4095", b"-4097", b"32767",
              b"-32769", b"8388607", b"-8388609", b"2147483647", b"-2147483649",
              b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
              b"-0", b"01", b"+1", b"1.5", b" 1", b"x" * 63, b"y" * 64, b"z" * 4095,
              b"w" * 4096, b"\x00\xff\r\n", "ünï".encode()]
    for i, value in enumerate(values, 1):
        c.execute_command("XADD", key, f"1-{i}", "v", value, "n", i)
    c.execute_command("XADD", key, "2-1", "other", "fields", "n", "1")
    c.execute_command("XADD", key, "2-2", "v", "same", "n", "again")
    c.execute_command("XADD", key, "2-3", "v", "more", "n", "fields", "extra", "x")
    c.execute_command("XADD", key, "2-4", "n", "reversed", "v", "order")
    c.execute_command("XADD", key, "2-5", "v", "dup", "v", "dup")
    c.execute_command("XADD", key, "2-6", "12", "34")


def _many(c: Any) -> None:
    key = "s:many"
    for start in range(0, 300, 50):
        args = []
        for i in range(start, start + 50):
            args.append(["XADD", key, f"{1000 + i}-0", "field", i, "payload", "p" * (i % 40)])
        pipe = c.pipeline(transaction=False)
        for command in args:
            pipe.execute_command(*command)
        pipe.execute()
    c.execute_command("XGROUP", "CREATE", key, "g", "0")
    c.execute_command("XREADGROUP", "GROUP", "g", "c", "COUNT", "100", "STREAMS", key, ">")
    c.execute_command("XDEL", key, *[f"{1000 + i}-0" for i in range(0, 300, 7)])


BUILDERS = (_groups, _trimmed, _zero_live_node, _emptied, _only_groups, _edges)
BUILDERS_DB3 = (_ttl, _fields, _many)


def build(port: int) -> None:
    """Run the script on the server at port (started with NODE_ARGS)."""
    client = connect(port)
    for builder in BUILDERS:
        builder(client)
    client = connect(port, 3)
    for builder in BUILDERS_DB3:
        builder(client)


def more_writes(port: int) -> list[Any]:
    """Writes after a load, whose results depend on the nodes and counters that were loaded:
    appends (where do new nodes start?), trims by MAXLEN ~ / MINID, deletions, reads. Their
    replies (errors too), to compare."""
    replies: list[Any] = []

    def run(c: Any, *command: Any) -> Any:
        try:
            reply = c.execute_command(*command)
        except redis.ResponseError as error:
            reply = str(error)
        replies.append(reply)
        return reply

    for db, key in KEYS:
        c = connect(port, db)
        for i in range(9):
            run(c, "XADD", key, f"{10**15 + i}-*", "more", i)
        run(c, "XTRIM", key, "MAXLEN", "~", "20")
        first = run(c, "XRANGE", key, "-", "+", "COUNT", "3")
        if len(first) == 3:
            run(c, "XTRIM", key, "MINID", first[2][0])
            run(c, "XDEL", key, first[2][0])
        for group in run(c, "XINFO", "GROUPS", key):
            name = dict(zip(group[::2], group[1::2], strict=True))[b"name"]
            run(c, "XREADGROUP", "GROUP", name, "later", "COUNT", "2", "STREAMS", key, ">")
    return replies


# -- what describes a stream ----------------------------------------------------------------------

def _normalised(reply: Any, names: tuple[bytes, ...], times: bool = True) -> Any:
    """The reply with the values after each of `names` (in flat key-value arrays) zeroed, and
    with times=False the delivery times of XINFO STREAM FULL's pending entries too."""
    if not isinstance(reply, list):
        return reply
    out = [_normalised(item, names, times) for item in reply]
    for i in range(len(out) - 1):
        if not isinstance(out[i], bytes):
            continue
        if out[i] in names:
            out[i + 1] = 0
        elif not times and out[i] == b"pending" and isinstance(out[i + 1], list):
            for entry in out[i + 1]:  # [id, consumer, time, count] or [id, time, count]
                entry[len(entry) - 2] = 0
    return out


def describe(port: int, *, seen_time: bool = True, times: bool = True, radix: bool = True,
             keys: list[tuple[int, bytes]] = KEYS) -> dict:
    """Every reply that shows a stream's state, per (db, key). Idle times are left out (they
    move with the clock); seen-time is left out with seen_time=False (an AOF replay sets it
    to the loading time), all times with times=False (for servers that ran the same reads at
    different times), and the radix tree figures with radix=False."""
    result: dict[tuple[int, bytes], dict[str, Any]] = {}
    for db, key in keys:
        c = connect(port, db)
        state: dict[str, Any] = {
            "type": c.execute_command("TYPE", key),
            "pexpiretime": c.execute_command("PEXPIRETIME", key),
        }
        if state["type"] != b"stream":
            result[db, key] = state
            continue
        names = () if seen_time and times else (b"seen-time",)
        if not radix:
            names += (b"radix-tree-keys", b"radix-tree-nodes")
        full = c.execute_command("XINFO", "STREAM", key, "FULL", "COUNT", "0")
        full = _normalised(full, names, times)
        state["full"] = full
        state["info"] = _normalised(c.execute_command("XINFO", "STREAM", key),
                                    () if radix else (b"radix-tree-keys", b"radix-tree-nodes"))
        state["xrange"] = c.execute_command("XRANGE", key, "-", "+")
        state["xrevrange"] = c.execute_command("XREVRANGE", key, "+", "-", "COUNT", "7")
        state["xlen"] = c.execute_command("XLEN", key)
        state["encoding"] = c.execute_command("OBJECT", "ENCODING", key)
        groups = c.execute_command("XINFO", "GROUPS", key)
        state["groups"] = groups
        for group in groups:
            name = dict(zip(group[::2], group[1::2], strict=True))[b"name"]
            consumers = c.execute_command("XINFO", "CONSUMERS", key, name)
            state[f"consumers {name!r}"] = _normalised(consumers, (b"idle",))
            state[f"xpending {name!r}"] = c.execute_command("XPENDING", key, name)
            state[f"xpending+ {name!r}"] = [
                [entry_id, consumer, 0, count] for entry_id, consumer, _, count in
                c.execute_command("XPENDING", key, name, "-", "+", "1000")]
        result[db, key] = state
    return result


def assert_same(expected: dict, actual: dict) -> None:
    """Equal, naming the first differing key and reply when not."""
    for where in expected:
        for what in expected[where]:
            assert actual[where].get(what) == expected[where][what], (where, what)
    assert expected == actual
