"""Connection commands: PING ECHO QUIT SELECT RESET AUTH HELLO CLIENT.

These are what every client library runs first (HELLO, AUTH, CLIENT SETINFO/SETNAME, SELECT),
so they are checked three ways: through redis-py sync and asyncio in both protocols, as exact
bytes against the real redis-server, and with a password configured on both servers.
"""

from __future__ import annotations

import asyncio
import socket
import time

import hiredis
import pytest
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support import converse, server_pair

# -- through redis-py -----------------------------------------------------------------------------


def test_ping_echo(r):
    assert r.ping() is True
    assert r.echo("hello") == b"hello"
    assert r.echo(b"\x00\r\n\xff") == b"\x00\r\n\xff"


def test_select_keeps_databases_apart(r):
    r.set("k", "db0")
    assert r.execute_command("SELECT", 1) in (True, b"OK")
    assert r.get("k") is None
    r.set("k", "db1")
    r.execute_command("SELECT", 0)
    assert r.get("k") == b"db0"
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        r.execute_command("SELECT", 16)


def test_reset_restores_the_defaults(valkdb_server):
    client = redis.Redis(port=valkdb_server.port, protocol=3, single_connection_client=True)
    client.client_setname("named")
    client.execute_command("SELECT", 3)
    assert client.execute_command("RESET") in (b"RESET", "RESET")
    assert client.client_getname() is None
    info = client.client_info()
    assert (str(info["db"]), str(info["resp"])) == ("0", "2")
    client.close()


def test_quit_replies_then_closes(raw):
    raw.sendall(b"PING\r\nQUIT\r\nPING\r\n")
    received = b""
    while data := raw.recv(100):
        received += data
    assert received == b"+PONG\r\n+OK\r\n"


@pytest.mark.parametrize("protocol", [2, 3])
def test_sync_client_end_to_end(valkdb_server, protocol):
    client = redis.Redis(port=valkdb_server.port, protocol=protocol, socket_timeout=5)
    pipe = client.pipeline(transaction=False)
    for i in range(100):
        pipe.set(f"k{i}", i).incr(f"k{i}").decr(f"k{i}")
    assert pipe.execute() == [x for i in range(100) for x in (True, i + 1, i)]
    assert client.mget("k0", "k99", "missing") == [b"0", b"99", None]
    client.close()


@pytest.mark.parametrize("protocol", [None, 2, 3])
def test_asyncio_client_end_to_end(valkdb_server, protocol):
    async def scenario():
        options = {} if protocol is None else {"protocol": protocol}
        client = redis.asyncio.Redis(port=valkdb_server.port, socket_timeout=5, **options)
        await client.set("async", "v")
        results = await asyncio.gather(*(client.incr("async-counter") for _ in range(50)))
        value = await client.get("async")
        name_set = await client.client_setname("aio")
        name = await client.client_getname()
        await client.aclose()
        return sorted(results), value, name_set, name

    results, value, name_set, name = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert results[-1] - results[0] == 49
    assert value == b"v" and name_set is True and name in (b"aio", "aio")


# -- HELLO ----------------------------------------------------------------------------------------


def hello_fields(port: int, command: bytes) -> dict:
    """HELLO's reply decoded (RESP2 array or RESP3 map) to a dict, on a fresh connection."""
    reply = converse(port, command + b"\r\n", closes=False)
    reader = hiredis.Reader()
    reader.feed(reply)
    value = reader.gets()
    assert reader.gets() is False
    if isinstance(value, list):
        value = dict(zip(value[::2], value[1::2], strict=True))
    return value


@pytest.mark.parametrize("command", [b"HELLO", b"HELLO 2", b"HELLO 3", b"HELLO 3 SETNAME n"])
def test_hello_reply_matches_redis(valkdb_server, redis_server, command):
    ours = hello_fields(valkdb_server.port, command)
    theirs = hello_fields(redis_server.port, command)
    assert list(ours) == list(theirs)
    for field in (b"id", b"version"):
        assert type(ours.pop(field)) is type(theirs.pop(field))
    assert ours == theirs


def test_hello_switches_the_reply_types(raw):
    raw.sendall(b"HELLO 3\r\n")
    time.sleep(0.05)
    raw.recv(4096)
    raw.sendall(b"GET missing\r\nHELLO 2\r\n")
    time.sleep(0.05)
    raw.recv(4096)
    raw.sendall(b"GET missing\r\n")
    assert raw.recv(100) == b"$-1\r\n"


# -- raw bytes against the real redis-server ------------------------------------------------------

SAME_BYTES = {
    "HELLO 4": b"hello 4\r\n",
    "HELLO 1": b"hello 1\r\n",
    "HELLO not a number": b"hello x\r\n",
    "HELLO bad option": b"hello 3 foo\r\n",
    "HELLO SETNAME missing": b"hello 3 setname\r\n",
    "HELLO SETNAME bad name": b"hello 3 setname 'a b'\r\n",
    "HELLO AUTH wrong user": b"hello 2 auth nobody pw\r\n",
    "AUTH without password": b"auth pw\r\n",
    "AUTH default any": b"auth default anything\r\n",
    "AUTH wrong user": b"auth nobody pw\r\n",
    "AUTH too many": b"auth a b c\r\n",
    "PING arity": b"ping a b\r\n",
    "PING with argument": b"ping x\r\nping ''\r\n",
    "ECHO arity": b"echo\r\necho a b\r\n",
    "SELECT": b"select 1\r\nselect 15\r\nselect 16\r\nselect -1\r\nselect x\r\nselect 1.5\r\n",
    "RESET": b"select 2\r\nclient setname x\r\nreset\r\nclient getname\r\nreset x\r\n",
    "CLIENT without subcommand": b"client\r\n",
    "CLIENT SETNAME": b"client setname a\r\nclient getname\r\nclient setname ''\r\n"
                      b"client getname\r\nclient setname 'a b'\r\nclient setname a\\nb\r\n",
    "CLIENT LIST errors": b"client list type foo\r\nclient list id x\r\nclient list foo\r\n"
                          b"client list type\r\nclient list id 999999\r\nclient list id 0\r\n",
    "CLIENT KILL errors": b"client kill 1.2.3.4:5\r\nclient kill id 0\r\nclient kill id x\r\n"
                          b"client kill type foo x\r\nclient kill foo bar\r\n"
                          b"client kill user nobody\r\nclient kill skipme maybe\r\n"
                          b"client kill id 999999 skipme no\r\nclient kill addr\r\n"
                          b"client kill id 999999 type\r\n",
    "CLIENT unknown": b"client nosuch\r\n",
    "CLIENT arity": b"client id x\r\nclient getname x\r\n",
}


@pytest.mark.parametrize("payload", SAME_BYTES.values(), ids=SAME_BYTES.keys())
def test_same_bytes_as_redis(valkdb_server, redis_server, payload):
    assert converse(valkdb_server.port, payload, False) == converse(
        redis_server.port, payload, False)


RESP3_SAME_BYTES = {
    "PING": b"ping\r\nping x\r\n",
    "CLIENT GETNAME": b"client getname\r\nclient setname n\r\nclient getname\r\n",
    "CLIENT LIST empty": b"client list id 999999\r\n",
    "SELECT and RESET": b"select 1\r\nreset\r\nget missing\r\n",
}
_END_OF_HELLO = b"$7\r\nmodules\r\n*0\r\n"


@pytest.mark.parametrize("payload", RESP3_SAME_BYTES.values(), ids=RESP3_SAME_BYTES.keys())
def test_same_bytes_as_redis_in_resp3(valkdb_server, redis_server, payload):
    def after_hello(port):
        reply = converse(port, b"hello 3\r\n" + payload, False)
        return reply.partition(_END_OF_HELLO)[2]

    assert after_hello(valkdb_server.port) == after_hello(redis_server.port)


# -- CLIENT ---------------------------------------------------------------------------------------


def connect(server, **options) -> redis.Redis:
    return redis.Redis(port=server.port, single_connection_client=True, socket_timeout=5,
                       **options)


def fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split())


def test_client_info_has_redis_fields(valkdb_server, redis_server):
    ours = converse(valkdb_server.port, b"client info\r\n", False)
    theirs = converse(redis_server.port, b"client info\r\n", False)
    our_fields = fields(ours.split(b"\r\n")[1].decode())
    their_fields = fields(theirs.split(b"\r\n")[1].decode())
    assert set(their_fields) <= set(our_fields)
    for same in ("name", "db", "sub", "psub", "multi", "flags", "cmd", "user", "resp"):
        assert our_fields[same] == their_fields[same], same


def test_client_id_setname_info_list(valkdb_server):
    client = connect(valkdb_server)
    client_id = client.client_id()
    assert client.client_setname("worker-1") is True
    assert client.client_getname() in (b"worker-1", "worker-1")
    info = client.client_info()
    assert (int(info["id"]), info["name"]) == (client_id, "worker-1")
    listed = client.client_list(client_id=[client_id])
    assert [c["name"] for c in listed] == ["worker-1"]
    assert client_id in [int(c["id"]) for c in client.client_list(_type="normal")]
    assert client.client_list(_type="pubsub") == []
    client.close()


def test_client_setinfo_as_redis_py_sends_it(valkdb_server):
    """CLIENT SETINFO is Redis 7.2's; redis-py sends it on connect, so valkdb accepts it."""
    client = connect(valkdb_server)
    assert client.client_info()["lib-name"] == "redis-py"
    client.execute_command("CLIENT", "SETINFO", "LIB-NAME", "my-lib")
    client.execute_command("CLIENT", "SETINFO", "lib-ver", "9.9")
    info = client.client_info()
    assert (info["lib-name"], info["lib-ver"]) == ("my-lib", "9.9")
    with pytest.raises(redis.ResponseError, match="Unrecognized option"):
        client.execute_command("CLIENT", "SETINFO", "foo", "x")
    with pytest.raises(redis.ResponseError, match="cannot contain spaces"):
        client.execute_command("CLIENT", "SETINFO", "LIB-NAME", "a b")
    client.close()


def test_client_ids_are_unique_and_increasing(valkdb_server):
    first, second = connect(valkdb_server), connect(valkdb_server)
    assert second.client_id() > first.client_id()
    first.close()
    second.close()


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(5)
    try:
        return sock.recv(100) == b""
    except ConnectionResetError:
        return True


def victim_socket(server) -> tuple[socket.socket, int, str]:
    """A raw connection and its client id and address as the server sees them."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"CLIENT INFO\r\n")
    time.sleep(0.05)
    info = fields(sock.recv(4096).split(b"\r\n")[1].decode())
    return sock, int(info["id"]), info["addr"]


def test_client_kill_by_id_closes_the_other_connection(valkdb_server):
    killer = connect(valkdb_server)
    sock, victim_id, _ = victim_socket(valkdb_server)
    assert killer.client_kill_filter(_id=victim_id) == 1
    assert closed_by_server(sock)
    assert killer.client_kill_filter(_id=victim_id) == 0
    sock.close()
    killer.close()


def test_client_kill_old_form_by_address(valkdb_server):
    killer = connect(valkdb_server)
    sock, _, addr = victim_socket(valkdb_server)
    assert killer.client_kill(addr) is True
    assert closed_by_server(sock)
    with pytest.raises(redis.ResponseError, match="No such client"):
        killer.client_kill(addr)
    sock.close()
    killer.close()


def test_client_kill_skipme(valkdb_server):
    client = connect(valkdb_server)
    own_id = client.client_id()
    assert client.client_kill_filter(_id=own_id) == 0  # SKIPME yes is the default
    assert client.ping() is True
    client.close()


def test_client_kill_skipme_no_kills_the_caller(valkdb_server):
    sock, own_id, _ = victim_socket(valkdb_server)
    sock.sendall(b"CLIENT KILL ID %d SKIPME no\r\n" % own_id)
    received = b""
    try:
        while data := sock.recv(100):
            received += data
    except ConnectionResetError:
        pass
    assert received in (b"", b":1\r\n")  # Redis replies :1 then closes
    sock.close()


def test_client_kill_type_pubsub(valkdb_server):
    killer = connect(valkdb_server)
    sock = socket.create_connection(("127.0.0.1", valkdb_server.port), timeout=5)
    sock.sendall(b"SUBSCRIBE news\r\n")
    sock.recv(100)
    assert killer.client_kill_filter(_type="pubsub") >= 1
    assert closed_by_server(sock)
    sock.close()
    killer.close()


# -- with a password ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded():
    """valkdb and redis-server with requirepass pw."""
    with server_pair("--requirepass", "pw") as pair:
        yield pair


GUARDED_BYTES = {
    "NOAUTH": b"get k\r\nset k v\r\nclient id\r\n",
    "allowed before AUTH": b"ping\r\necho x\r\n",
    "WRONGPASS": b"auth wrong\r\nauth default wrong\r\nauth nobody pw\r\nget never-set\r\n",
    "AUTH pw": b"auth pw\r\nget never-set\r\n",
    "AUTH default pw": b"auth default pw\r\nget never-set\r\n",
    "HELLO before AUTH": b"hello 3\r\nhello 2\r\nhello\r\n",
    "HELLO AUTH wrong": b"hello 3 auth default wrong\r\nget never-set\r\n",
    "RESET drops authentication": b"auth pw\r\nreset\r\nget never-set\r\n",
}


@pytest.mark.parametrize("payload", GUARDED_BYTES.values(), ids=GUARDED_BYTES.keys())
def test_password_replies_match_redis(guarded, payload):
    valkdb, reference = guarded
    assert converse(valkdb.port, payload, False) == converse(reference.port, payload, False)


def test_hello_auth_authenticates(guarded):
    valkdb, reference = guarded
    ours = hello_fields(valkdb.port, b"HELLO 3 AUTH default pw")
    theirs = hello_fields(reference.port, b"HELLO 3 AUTH default pw")
    assert ours[b"proto"] == theirs[b"proto"] == 3


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_with_password(guarded, protocol):
    valkdb, _ = guarded
    no_retry = Retry(NoBackoff(), 0)
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=valkdb.port, protocol=protocol, retry=no_retry).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=valkdb.port, protocol=protocol, password="wrong", retry=no_retry).ping()
    client = redis.Redis(port=valkdb.port, protocol=protocol, password="pw")
    assert client.set("py-key", "v") is True and client.get("py-key") == b"v"
    client.close()
