"""Client-side caching (CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO and the invalidation
messages) compared with redis-server 7.0.15: the same scenario runs on both servers over
several raw connections, and everything each connection received must be the same bytes.

A step is (connection, command): the command is sent and its reply awaited (pushes that came
before it are part of what the connection received); at the end every connection sends a PING
and reads up to its reply, so late pushes are collected too. `{id:name}` in a command stands
for that server's id of the connection `name`.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.compat.resp import encode_command, read_reply

_ID = re.compile(rb"\{id:(\w+)\}")
_BROKEN = b">2\r\n$21\r\ntracking-redir-broken\r\n"


class Peer:
    """One raw connection, with everything it received."""

    def __init__(self, port: int, protocol: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.stream = self.sock.makefile("rb")
        self.protocol = protocol
        self.subscribed = False
        # (whether it shows client ids, reply)
        self.received: list[tuple[bool, bytes]] = []
        if protocol == 3:
            self.sock.sendall(encode_command([b"HELLO", b"3"]))
            read_reply(self.stream)
        self.sock.sendall(encode_command([b"CLIENT", b"ID"]))
        self.id = int(read_reply(self.stream)[1:-2])

    def _is_push(self, reply: bytes) -> bool:
        if reply.startswith(b">"):
            return not reply.startswith((b">3\r\n$9\r\nsubscribe", b">3\r\n$11\r\nunsubscribe"))
        return self.subscribed and reply.startswith(b"*3\r\n$7\r\nmessage\r\n")

    def run(self, args: list[bytes], replies: int = 1) -> None:
        """Send a command, read its reply (and the pushes before it)."""
        if args[0].lower() == b"subscribe":
            self.subscribed = True
        self.sock.sendall(encode_command(args))
        shows_ids = args[0].upper() == b"HELLO" or args[0].upper() == b"CLIENT" and args[
            1].upper() in (b"GETREDIR", b"TRACKINGINFO")
        while replies:
            reply = read_reply(self.stream)
            push = self._is_push(reply)
            self.received.append(((shows_ids and not push) or reply.startswith(_BROKEN), reply))
            if not push:
                replies -= 1

    def drain(self) -> None:
        self.run([b"PING"])

    def close(self) -> None:
        self.stream.close()  # (the file holds the socket open too)
        self.sock.close()


class Scenario:
    """The same connections on valkdb and on Redis."""

    def __init__(self, ours: int, theirs: int) -> None:
        self.ports = {"valkdb": ours, "redis": theirs}
        self.peers: dict[str, dict[str, Peer]] = {"valkdb": {}, "redis": {}}

    def connect(self, name: str, protocol: int) -> None:
        for server, port in self.ports.items():
            self.peers[server][name] = Peer(port, protocol)

    def step(self, name: str, *args: bytes, replies: int = 1) -> None:
        for peers in self.peers.values():
            ids = {other: b"%d" % peer.id for other, peer in peers.items()}
            concrete = [_ID.sub(lambda m, ids=ids: ids[m.group(1).decode()], arg)
                        for arg in args]
            peers[name].run(concrete, replies)

    def disconnect(self, name: str) -> None:
        for peers in self.peers.values():
            peers[name].close()
        time.sleep(0.05)  # both servers notice the close

    def compare(self) -> None:
        for peers in self.peers.values():
            for peer in peers.values():
                if peer.sock.fileno() != -1:
                    peer.drain()
        ours, theirs = self.peers["valkdb"], self.peers["redis"]
        for name in ours:
            assert self._normal(ours[name]) == self._normal(theirs[name]), name

    def _normal(self, peer: Peer) -> list[bytes]:
        """What it received, client ids replaced by the names of their connections."""
        peers = next(p for p in self.peers.values() if peer in p.values())
        names = {b":%d\r\n" % other.id: b":{%s}\r\n" % name.encode()
                 for name, other in peers.items()}
        return [re.sub(rb":\d+\r\n", lambda m: names.get(m.group(0), m.group(0)), reply)
                if shows_ids else reply for shows_ids, reply in peer.received]

    def close(self) -> None:
        """Close every connection, waiting until each server has seen them go (their tracking
        state goes with them) but for the admin one."""
        for peers in self.peers.values():
            for name, peer in peers.items():
                if name != "admin":
                    peer.close()
            admin = peers["admin"]
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                admin.run([b"INFO", b"clients"])
                if b"tracking_clients:0\r\n" in admin.received[-1][1]:
                    break
                time.sleep(0.01)
            admin.close()


@pytest.fixture
def scenario(valkdb_server, redis_server):
    pair = Scenario(valkdb_server.port, redis_server.port)
    pair.connect("admin", 2)
    pair.step("admin", b"FLUSHALL")
    yield pair
    pair.step("admin", b"CONFIG", b"SET", b"tracking-table-max-keys", b"1000000")
    pair.close()


def test_default_mode_tells_once_per_read(scenario):
    scenario.connect("tracker", 3)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on")
    scenario.step("tracker", b"GET", b"k")
    scenario.step("tracker", b"MGET", b"k2", b"k3")
    scenario.step("admin", b"SET", b"k", b"1")
    scenario.step("admin", b"SET", b"k", b"2")  # forgotten after the first message
    scenario.step("admin", b"MSET", b"k2", b"a", b"k3", b"b")
    scenario.step("tracker", b"GET", b"k")
    scenario.step("admin", b"DEL", b"k")
    scenario.step("tracker", b"HGETALL", b"missing")
    scenario.step("admin", b"HSET", b"missing", b"f", b"v")
    scenario.compare()


def test_own_changes_follow_the_reply(scenario):
    scenario.connect("tracker", 3)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on")
    scenario.step("tracker", b"GET", b"k")
    scenario.step("tracker", b"SET", b"k", b"1")
    scenario.step("tracker", b"GET", b"k")
    scenario.step("tracker", b"MULTI")
    scenario.step("tracker", b"INCR", b"k")
    scenario.step("tracker", b"GET", b"k")
    scenario.step("tracker", b"EXEC")
    scenario.step("tracker", b"GET", b"k")
    scenario.step("tracker", b"EVAL", b"return redis.call('incr', KEYS[1])", b"1", b"k")
    scenario.compare()


def test_noloop_leaves_out_own_changes(scenario):
    scenario.connect("tracker", 3)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on", b"NOLOOP")
    scenario.step("tracker", b"GET", b"k")
    scenario.step("tracker", b"SET", b"k", b"1")
    scenario.step("tracker", b"GET", b"k")
    scenario.step("admin", b"SET", b"k", b"2")
    scenario.compare()


@pytest.mark.parametrize("protocol", [2, 3])
def test_redirect(scenario, protocol):
    scenario.connect("tracker", 2)
    scenario.connect("listener", protocol)
    scenario.step("listener", b"SUBSCRIBE", b"__redis__:invalidate")
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on", b"REDIRECT", b"{id:listener}")
    scenario.step("tracker", b"CLIENT", b"GETREDIR")
    scenario.step("tracker", b"GET", b"k")
    scenario.step("tracker", b"GET", b"j")
    scenario.step("admin", b"SET", b"k", b"1")
    scenario.step("tracker", b"SET", b"j", b"1")
    scenario.step("tracker", b"GET", b"j")
    scenario.step("admin", b"FLUSHDB")
    scenario.compare()


def test_redirect_to_an_unsubscribed_resp2_client_sends_nothing(scenario):
    scenario.connect("tracker", 2)
    scenario.connect("listener", 2)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on", b"REDIRECT", b"{id:listener}")
    scenario.step("tracker", b"GET", b"k")
    scenario.step("admin", b"SET", b"k", b"1")
    scenario.compare()


def test_broken_redirect(scenario):
    scenario.connect("tracker", 3)
    scenario.connect("listener", 3)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on", b"REDIRECT", b"{id:listener}")
    scenario.step("tracker", b"GET", b"k")
    scenario.disconnect("listener")
    scenario.step("admin", b"SET", b"k", b"1")
    scenario.step("tracker", b"CLIENT", b"TRACKINGINFO")
    scenario.step("tracker", b"CLIENT", b"GETREDIR")
    scenario.compare()


def test_bcast_prefixes(scenario):
    scenario.connect("tracker", 3)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on", b"BCAST", b"PREFIX", b"a:",
                  b"PREFIX", b"b:")
    scenario.step("admin", b"SET", b"a:1", b"x")
    scenario.step("admin", b"MSET", b"b:2", b"x", b"a:3", b"y", b"c:1", b"z", b"a:0", b"w")
    scenario.step("admin", b"DEL", b"c:1")
    scenario.step("tracker", b"SET", b"a:1", b"own")
    scenario.step("tracker", b"CLIENT", b"TRACKINGINFO")
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on", b"BCAST", b"PREFIX", b"c")
    scenario.step("admin", b"SET", b"cat", b"x")
    scenario.step("tracker", b"CLIENT", b"TRACKINGINFO")
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"off")
    scenario.step("admin", b"SET", b"cat", b"y")
    scenario.compare()


def test_bcast_without_prefixes_and_noloop(scenario):
    scenario.connect("tracker", 3)
    scenario.connect("other", 3)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on", b"BCAST", b"NOLOOP")
    scenario.step("other", b"CLIENT", b"TRACKING", b"on", b"BCAST")
    scenario.step("tracker", b"MSET", b"x", b"1", b"y", b"2")
    scenario.step("admin", b"SET", b"z", b"3")
    scenario.step("tracker", b"MULTI")
    scenario.step("tracker", b"SET", b"x", b"3")
    scenario.step("tracker", b"EXEC")
    scenario.step("admin", b"MULTI")
    scenario.step("admin", b"SET", b"x", b"4")
    scenario.step("admin", b"EXEC")
    scenario.compare()


def test_optin(scenario):
    scenario.connect("tracker", 3)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on", b"OPTIN")
    scenario.step("tracker", b"GET", b"a")  # not remembered
    scenario.step("tracker", b"CLIENT", b"CACHING", b"yes")
    scenario.step("tracker", b"CLIENT", b"TRACKINGINFO")
    scenario.step("tracker", b"GET", b"b")  # remembered, and CACHING ends
    scenario.step("tracker", b"GET", b"c")
    scenario.step("tracker", b"CLIENT", b"CACHING", b"yes")
    scenario.step("tracker", b"MULTI")
    scenario.step("tracker", b"GET", b"d")
    scenario.step("tracker", b"GET", b"e")
    scenario.step("tracker", b"EXEC")
    scenario.step("admin", b"MSET", b"a", b"1", b"b", b"1", b"c", b"1", b"d", b"1", b"e", b"1")
    scenario.step("tracker", b"CLIENT", b"CACHING", b"no")
    scenario.compare()


def test_optout(scenario):
    scenario.connect("tracker", 3)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on", b"OPTOUT")
    scenario.step("tracker", b"GET", b"a")  # remembered
    scenario.step("tracker", b"CLIENT", b"CACHING", b"no")
    scenario.step("tracker", b"CLIENT", b"TRACKINGINFO")
    scenario.step("tracker", b"GET", b"b")  # not remembered
    scenario.step("tracker", b"GET", b"c")
    scenario.step("admin", b"MSET", b"a", b"1", b"b", b"1", b"c", b"1")
    scenario.step("tracker", b"CLIENT", b"CACHING", b"yes")
    scenario.compare()


def test_scripts_remember_their_declared_keys(scenario):
    scenario.connect("tracker", 3)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on")
    scenario.step("tracker", b"EVAL", b"return redis.call('get', KEYS[1])", b"2", b"s1", b"s2")
    scenario.step("tracker", b"EVAL_RO", b"return redis.call('get', 'x')", b"1", b"s3")
    scenario.step("tracker", b"EVAL", b"return 1", b"1", b"s4")  # reads nothing
    scenario.step("admin", b"MSET", b"s1", b"1", b"s2", b"1", b"s3", b"1", b"s4", b"1",
                  b"x", b"1")
    scenario.compare()


def test_flushes_send_a_null(scenario):
    scenario.connect("tracker", 3)
    scenario.connect("bcast", 3)
    scenario.connect("resp2", 2)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on")
    scenario.step("bcast", b"CLIENT", b"TRACKING", b"on", b"BCAST")
    scenario.step("resp2", b"CLIENT", b"TRACKING", b"on")
    scenario.step("tracker", b"GET", b"k")
    scenario.step("admin", b"FLUSHALL")
    scenario.step("tracker", b"FLUSHDB")
    scenario.step("admin", b"SWAPDB", b"0", b"1")
    scenario.step("admin", b"SET", b"k", b"1")  # the table was emptied
    scenario.compare()


def test_expiry_invalidates(scenario):
    scenario.connect("tracker", 3)
    scenario.step("admin", b"SET", b"k", b"v", b"PX", b"30")
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on")
    scenario.step("tracker", b"GET", b"k")
    time.sleep(0.1)
    scenario.step("admin", b"GET", b"k")  # finds it expired
    scenario.compare()


def test_reset_and_off_stop_tracking(scenario):
    scenario.connect("tracker", 3)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on")
    scenario.step("tracker", b"GET", b"k")
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"off")
    scenario.step("admin", b"SET", b"k", b"1")
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on")
    scenario.step("tracker", b"GET", b"j")
    scenario.step("tracker", b"RESET")
    scenario.step("tracker", b"HELLO", b"3")
    scenario.step("tracker", b"CLIENT", b"TRACKINGINFO")
    scenario.step("admin", b"SET", b"j", b"1")
    scenario.compare()


def test_table_limit_forgets_keys(scenario):
    scenario.connect("tracker", 3)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on")
    scenario.step("tracker", b"GET", b"only")
    scenario.step("admin", b"CONFIG", b"SET", b"tracking-table-max-keys", b"1")
    scenario.step("tracker", b"GET", b"only")  # one key: at the limit, nothing forgotten
    scenario.step("admin", b"CONFIG", b"SET", b"tracking-table-max-keys", b"0")
    scenario.step("admin", b"SET", b"only", b"1")
    scenario.compare()


ERRORS = [
    [b"CLIENT", b"TRACKING"],
    [b"CLIENT", b"TRACKING", b"maybe"],
    [b"CLIENT", b"TRACKING", b"on", b"FOO"],
    [b"CLIENT", b"TRACKING", b"on", b"REDIRECT"],
    [b"CLIENT", b"TRACKING", b"on", b"REDIRECT", b"x"],
    [b"CLIENT", b"TRACKING", b"on", b"REDIRECT", b"999999999"],
    [b"CLIENT", b"TRACKING", b"on", b"REDIRECT", b"{id:admin}", b"REDIRECT", b"{id:admin}"],
    [b"CLIENT", b"TRACKING", b"on", b"PREFIX", b"a"],
    [b"CLIENT", b"TRACKING", b"on", b"BCAST", b"OPTIN"],
    [b"CLIENT", b"TRACKING", b"on", b"OPTIN", b"OPTOUT"],
    [b"CLIENT", b"TRACKING", b"on", b"BCAST", b"PREFIX", b"ab", b"PREFIX", b"a"],
    [b"CLIENT", b"TRACKING", b"on", b"BCAST", b"PREFIX", b"a", b"PREFIX", b"b", b"PREFIX"],
    [b"CLIENT", b"TRACKING", b"off", b"BCAST", b"PREFIX", b"a"],
    [b"CLIENT", b"CACHING", b"yes"],
    [b"CLIENT", b"CACHING"],
    [b"CLIENT", b"GETREDIR"],
    [b"CLIENT", b"GETREDIR", b"x"],
    [b"CLIENT", b"TRACKINGINFO"],
    [b"CLIENT", b"TRACKINGINFO", b"x"],
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_errors_and_info(scenario, protocol):
    scenario.connect("c", protocol)
    for args in ERRORS:
        scenario.step("c", *args)
    scenario.compare()


@pytest.mark.parametrize("protocol", [2, 3])
def test_state_errors(scenario, protocol):
    scenario.connect("c", protocol)
    scenario.step("c", b"CLIENT", b"TRACKING", b"on", b"OPTIN")
    scenario.step("c", b"CLIENT", b"CACHING", b"no")
    scenario.step("c", b"CLIENT", b"CACHING", b"maybe")
    scenario.step("c", b"CLIENT", b"TRACKING", b"on", b"OPTOUT")
    scenario.step("c", b"CLIENT", b"TRACKING", b"on", b"BCAST")
    scenario.step("c", b"CLIENT", b"TRACKING", b"on", b"OPTIN", b"NOLOOP")
    scenario.step("c", b"CLIENT", b"TRACKINGINFO")
    scenario.step("c", b"CLIENT", b"TRACKING", b"off")
    scenario.step("c", b"CLIENT", b"TRACKING", b"on", b"BCAST", b"PREFIX", b"ab")
    scenario.step("c", b"CLIENT", b"TRACKING", b"on", b"BCAST", b"PREFIX", b"a")
    scenario.step("c", b"CLIENT", b"TRACKING", b"on", b"BCAST", b"PREFIX", b"abc")
    scenario.step("c", b"CLIENT", b"TRACKING", b"on", b"BCAST", b"PREFIX", b"b")
    scenario.step("c", b"CLIENT", b"TRACKING", b"on")
    scenario.step("c", b"CLIENT", b"TRACKINGINFO")
    scenario.step("c", b"CLIENT", b"TRACKING", b"off")
    scenario.step("c", b"CLIENT", b"CACHING", b"yes")
    scenario.compare()


def test_info_and_client_list(scenario):
    scenario.connect("tracker", 3)
    scenario.connect("bcast", 3)
    scenario.step("tracker", b"CLIENT", b"TRACKING", b"on", b"REDIRECT", b"{id:admin}")
    scenario.step("bcast", b"CLIENT", b"TRACKING", b"on", b"BCAST", b"PREFIX", b"p",
                  b"PREFIX", b"q")
    scenario.step("tracker", b"MGET", b"a", b"b", b"c")
    for server, peers in scenario.peers.items():
        admin = peers["admin"]
        admin.run([b"INFO"])
        info = admin.received.pop()[1].decode()
        fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
        assert (fields["tracking_clients"], fields["tracking_total_keys"],
                fields["tracking_total_items"], fields["tracking_total_prefixes"]) == (
            "2", "3", "3", "2"), server
        for name, flags in (("tracker", "t"), ("bcast", "tB")):
            peers[name].run([b"CLIENT", b"INFO"])
            line = peers[name].received.pop()[1].decode()
            assert f" flags={flags} " in line, (server, line)
            redirect = admin.id if name == "tracker" else 0
            assert f" redir={redirect} " in line, (server, line)
    scenario.compare()
