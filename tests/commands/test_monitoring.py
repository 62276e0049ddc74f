"""MONITOR, SLOWLOG, LATENCY and the command statistics: behaviour checked on valkdb and on a
real redis-server alike (the exact formats are in tests/compat/test_monitoring_diff.py)."""

from __future__ import annotations

import socket
import time

import hiredis
import pytest
import redis

from tests.compat.resp import RawConnection, elements, encode_command


@pytest.fixture(params=["valkdb", "redis"])
def port(request, valkdb_server, redis_server):
    return (valkdb_server if request.param == "valkdb" else redis_server).port


def _monitor(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(encode_command((b"MONITOR",)))
    assert sock.recv(5) == b"+OK\r\n"
    return sock


def test_a_slow_monitor_is_disconnected_past_its_limit_and_slows_nobody(port):
    client = redis.Redis(port=port, socket_timeout=10)
    client.config_set("client-output-buffer-limit", "normal 65536 0 0")
    sock = _monitor(port)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        started = time.monotonic()
        value = b"v" * 1000
        for _ in range(200):
            pipe = client.pipeline(transaction=False)
            for _ in range(50):
                pipe.set("k", value)
            pipe.execute()
        assert time.monotonic() - started < 20
        kinds = [line for line in client.client_list() if "O" in line["flags"]]
        assert kinds == []  # the monitor that never read was closed
    finally:
        client.config_set("client-output-buffer-limit", "normal 0 0 0")
        sock.close()
        client.close()


def test_a_monitor_is_flagged_o_in_client_list(port):
    sock = _monitor(port)
    client = redis.Redis(port=port, socket_timeout=10)
    try:
        flags = sorted(line["flags"] for line in client.client_list())
        assert "O" in flags
    finally:
        sock.close()
        client.close()


def test_a_blocking_commands_wait_is_not_its_duration(port):
    client = redis.Redis(port=port, socket_timeout=10)
    client.config_set("slowlog-log-slower-than", "100000")
    client.slowlog_reset()
    try:
        client.delete("empty")
        assert client.blpop(["empty"], timeout=0.3) is None
        assert client.slowlog_len() == 0
        client.eval("local t = redis.call('time') local s = t[1] * 1000000 + t[2] "
                    "while true do local n = redis.call('time') "
                    "if n[1] * 1000000 + n[2] - s > 150000 then break end end", 0)
        entries = client.slowlog_get()
        assert [entry["command"][:4] for entry in entries] == [b"EVAL"]
        assert entries[0]["duration"] >= 150000
    finally:
        client.config_set("slowlog-log-slower-than", "10000")
        client.slowlog_reset()
        client.close()


def test_slowlog_keeps_the_newest_max_len_entries(port):
    conn = RawConnection(port)
    try:
        conn.call(b"CONFIG", b"SET", b"slowlog-log-slower-than", b"0")
        conn.call(b"CONFIG", b"SET", b"slowlog-max-len", b"3")
        conn.call(b"SLOWLOG", b"RESET")
        for i in range(5):
            conn.call(b"ECHO", b"%d" % i)
        entries = [elements(entry) for entry in elements(conn.call(b"SLOWLOG", b"GET"))]
        assert [elements(entry[3]) for entry in entries] == [
            [b"$4\r\nECHO\r\n", b"$1\r\n4\r\n"], [b"$4\r\nECHO\r\n", b"$1\r\n3\r\n"],
            [b"$4\r\nECHO\r\n", b"$1\r\n2\r\n"]]
        ids = [int(entry[0][1:]) for entry in entries]
        assert ids[0] == ids[1] + 1 == ids[2] + 2
        conn.call(b"CONFIG", b"SET", b"slowlog-log-slower-than", b"-1")
        conn.call(b"ECHO", b"x")
        assert conn.call(b"SLOWLOG", b"LEN") == b":3\r\n"
    finally:
        conn.call(b"CONFIG", b"SET", b"slowlog-log-slower-than", b"10000")
        conn.call(b"CONFIG", b"SET", b"slowlog-max-len", b"128")
        conn.call(b"SLOWLOG", b"RESET")
        conn.close()


def test_resetstat_clears_command_and_error_stats(port):
    client = redis.Redis(port=port, socket_timeout=10)
    try:
        with pytest.raises(redis.ResponseError):
            client.execute_command("INCR", "k", "extra")
        client.config_resetstat()
        client.ping()
        stats = client.info("commandstats")
        assert set(stats) == {"cmdstat_config|resetstat", "cmdstat_ping"}  # (INFO: after)
        assert client.info("errorstats") == {}
        assert client.info("stats")["total_error_replies"] == 0
        client.set("s", "v")
        with pytest.raises(redis.ResponseError):
            client.lpush("s", "x")
        assert client.info("errorstats") == {"errorstat_WRONGTYPE": {"count": 1}}
        assert client.info("commandstats")["cmdstat_lpush"]["failed_calls"] == 1
    finally:
        client.close()


def test_latency_histogram_shape_in_resp3(port):
    client = redis.Redis(port=port, protocol=3, socket_timeout=10)
    try:
        client.config_resetstat()
        for _ in range(10):
            client.set("k", "v")
        reply = client.execute_command("LATENCY", "HISTOGRAM", "set", "config")
        assert set(reply) == {b"set", b"config|resetstat"}
        histogram = reply[b"set"]
        assert histogram[b"calls"] == 10
        cumulative = list(histogram[b"histogram_usec"].values())
        assert cumulative == sorted(cumulative) and cumulative[-1] == 10
    finally:
        client.close()


def test_a_monitor_sees_what_ran_before_its_own_replies(port):
    """Every command that ran before a monitor's own command is shown to it ahead of that
    command's reply, also when both run in one turn of the server's event loop and the
    monitor's command is one it is not shown (SLOWLOG, an admin command, counts what ran)."""
    writer = redis.Redis(port=port, socket_timeout=10)
    writer.config_set("slowlog-log-slower-than", 0)
    writer.config_set("slowlog-max-len", 1000)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock = _monitor(port)
    reader = hiredis.Reader()
    try:
        for attempt in range(20):
            prefix = b"mon:order:%d:" % attempt
            raw.sendall(b"".join(encode_command((b"SET", prefix + b"%d" % i, b"x"))
                                 for i in range(300)))
            sock.sendall(encode_command((b"SLOWLOG", b"GET", b"1000")))
            shown = 0
            ran = None
            while ran is None:
                reader.feed(sock.recv(65536))
                while (reply := reader.gets()) is not False:
                    if isinstance(reply, list):  # SLOWLOG GET's entries
                        ran = sum(1 for entry in reply if prefix in b" ".join(entry[3]))
                        break
                    if prefix in reply:
                        shown += 1
            assert shown >= ran, (attempt, shown, ran)
            received = b""
            while received.count(b"\r\n") < 300:  # the writer's replies, before the next try
                received += raw.recv(65536)
    finally:
        writer.config_set("slowlog-log-slower-than", 10000)
        writer.config_set("slowlog-max-len", 128)
        writer.slowlog_reset()
        writer.delete(*writer.keys("mon:order:*"))
        writer.close()
        raw.close()
        sock.close()


def test_the_idle_timeout_spares_monitors(port):
    """`timeout` closes an idle client but never a MONITOR (Redis flags it a replica, which
    clientsCronHandleTimeout skips)."""
    admin = redis.Redis(port=port, socket_timeout=5)
    admin.config_set("timeout", "1")
    monitor = _monitor(port)
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        idle.sendall(b"PING\r\n")
        assert idle.recv(7) == b"+PONG\r\n"
        idle.settimeout(6)
        assert idle.recv(1) == b""  # closed within a few seconds
        admin.ping()  # (the admin is busy enough: it is closed and reconnected if not)
        monitor.settimeout(5)
        admin.set("after", "1")
        assert b'"set" "after" "1"' in monitor.recv(65536).lower()
    finally:
        admin.config_set("timeout", "0")
        monitor.close()
        idle.close()
        admin.close()
