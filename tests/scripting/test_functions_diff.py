"""Differential tests of Redis 7.0 functions (FUNCTION *, FCALL, FCALL_RO) against a real
redis-server 7.0.15, reply bytes compared in RESP2 and RESP3, plus persistence interop: RDB and
AOF files with libraries moving between valkdb and redis-server, FUNCTION DUMP from one
restored on the other.

What Redis leaves open, and how it is normalised here:

* FUNCTION LIST's libraries, and the functions of one library, come in the order of Redis's
  hash tables (randomly seeded at start-up): cases with several compare them sorted.
* FUNCTION DUMP's bytes: redis-server LZF-compresses every library's code that shrinks;
  valkdb writes plain strings (Redis loads both). Payloads are compared by what they restore.
* FUNCTION STATS's duration_ms and the memory fields of INFO are each server's own.

Redis 7.0.15's behaviour pinned here that may surprise: a library's code runs with no other
global than `redis` (so `string`, `pcall`, `error` are "nonexistent global variables" at load
time), a bad function name gets the library-name message, load-time errors read
"Error registering functions: ERR ...", and FCALL finds functions case-insensitively while
library names are case-sensitive.
"""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.compat.differ import Divergence
from tests.compat.resp import RawConnection, bulk_value, elements, sorted_form
from tests.support import redis_server_binary, start_redis, start_valkdb

pytestmark = pytest.mark.skipif(redis_server_binary() is None, reason="needs redis-server")


def _b(arg: object) -> bytes:
    return arg if isinstance(arg, bytes) else str(arg).encode()


def canonical(reply: bytes) -> object:
    """A reply with every map, set and array sorted (see the docstring)."""
    return sorted_form(reply, arrays=True)


class Pair:
    """Raw connections to valkdb and redis-server in one protocol, used in lockstep."""

    def __init__(self, ours_port: int, theirs_port: int, protocol: int) -> None:
        self.ours = RawConnection(ours_port)
        self.theirs = RawConnection(theirs_port)
        self.protocol = protocol
        self.reset()

    def reset(self) -> None:
        for conn in (self.ours, self.theirs):
            conn.call(b"HELLO", b"%d" % self.protocol)
            for command in ((b"FUNCTION", b"FLUSH"), (b"FLUSHALL",), (b"SELECT", b"0")):
                assert conn.call(*command) == b"+OK\r\n"

    def close(self) -> None:
        self.reset()  # the session's servers are shared: leave no library behind
        self.ours.close()
        self.theirs.close()

    def same(self, *args: object, expect: object = None, unordered: bool = False) -> bytes:
        command = tuple(_b(a) for a in args)
        ours, theirs = self.ours.call(*command), self.theirs.call(*command)
        if expect is not None and _b(expect) not in theirs:
            raise AssertionError(f"the test is wrong: redis-server answered {theirs!r} to "
                                 f"{command!r}, which does not contain {_b(expect)!r}")
        if ours == theirs or unordered and canonical(ours) == canonical(theirs):
            return theirs
        raise Divergence(f"{command!r}:\n  valkdb: {ours!r}\n  redis:  {theirs!r}")

    def load(self, code: str, *options: str, expect: object = None) -> bytes:
        return self.same("FUNCTION", "LOAD", *options, code, expect=expect)


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request, valkdb_server, redis_server):
    pair = Pair(valkdb_server.port, redis_server.port, request.param)
    yield pair
    pair.close()


@pytest.fixture(scope="module")
def pair2(valkdb_server, redis_server):
    pair = Pair(valkdb_server.port, redis_server.port, 2)
    yield pair
    pair.close()


def lib(name: str, body: str) -> str:
    return f"#!lua name={name}\n{body}"


SIMPLE = lib("mylib", "redis.register_function('f', function(keys, args) return 1 end)")

# --- FUNCTION LOAD: every refusal ---------------------------------------------------------

LOAD_CASES = [
    # metadata (functionExtractLibMetaData)
    ("return 1", "Missing library metadata"),
    ("#!lua name=x", "Invalid library metadata"),
    ("#!lua", "Invalid library metadata"),
    ("#!lua\nreturn 1", "Library name was not given"),
    ("#!lua name=a foo=x\n", "Invalid metadata value given: foo=x"),
    ("#!lua name=a NAME=b\n", "name argument was given multiple times"),
    ('#!lua "name=a\n', "Invalid library metadata"),
    ("#!js name=a\nreturn 1", "Engine 'js' not found"),
    ("#!lua name=\nreturn 1", "Library names can only contain"),
    ("#!lua name=a-b\nreturn 1", "Library names can only contain"),
    ("#!LUA Name=Upper_9\nredis.register_function('u9', function() return 9 end)", "Upper_9"),
    ("#!lua name=a\n", "No functions registered"),
    ("#!lua name=a\nlocal x = 1", "No functions registered"),
    # compiling and running the code
    ("#!lua name=a\nreturn 1 +", "Error compiling function"),
    ("#!lua name=a\nfunction", "Error compiling function"),
    ("#!lua name=a\nlocal x = string.format('x')", "nonexistent global variable 'string'"),
    ("#!lua name=a\nerror('x')", "nonexistent global variable 'error'"),
    ("#!lua name=a\npcall(function() end)", "nonexistent global variable 'pcall'"),
    ("#!lua name=a\nredis.call('set', 'x', '1')", "nonexistent global variable 'call'"),
    ("#!lua name=a\nredis.pcall('ping')", "nonexistent global variable 'pcall'"),
    ("#!lua name=a\nredis.setresp(3)", "nonexistent global variable 'setresp'"),
    ("#!lua name=a\nx = 1", "Attempt to modify a readonly table"),
    ("#!lua name=a\nredis.x = 1", "Attempt to modify a readonly table"),
    ("#!lua name=a\nlocal t = nil\nlocal y = t.x", "attempt to index local 't'"),
    ("#!lua name=a\nredis.log(redis.LOG_WARNING, 'loading') "
     "redis.register_function('v', function() return redis.REDIS_VERSION end)", "a"),
    ("#!lua name=a\nredis.log()", "requires two arguments"),
    # redis.register_function's arguments
    ("#!lua name=a\nredis.register_function()", "wrong number of arguments"),
    ("#!lua name=a\nredis.register_function('f', function() end, 3)", "wrong number of"),
    ("#!lua name=a\nredis.register_function(nil, nil)", "first argument to"),
    ("#!lua name=a\nredis.register_function({}, function() end)", "first argument to"),
    ("#!lua name=a\nredis.register_function('f', 5)", "second argument to"),
    ("#!lua name=a\nredis.register_function('f', redis)", "second argument to"),
    ("#!lua name=a\nredis.register_function('f')", "only applicable to Lua table"),
    ("#!lua name=a\nredis.register_function{}", "must get a function name argument"),
    ("#!lua name=a\nredis.register_function{function_name='f'}", "must get a callback"),
    ("#!lua name=a\nredis.register_function{callback=function() end}", "function name argument"),
    ("#!lua name=a\nredis.register_function{function_name={}, callback=function() end}",
     "function_name argument given to redis.register_function must be a string"),
    ("#!lua name=a\nredis.register_function{function_name='f', callback=5}",
     "callback argument given to redis.register_function must be a function"),
    ("#!lua name=a\nredis.register_function{function_name='f', callback=function() end, "
     "description={}}", "description argument given to redis.register_function must be"),
    ("#!lua name=a\nredis.register_function{function_name='f', callback=function() end, "
     "flags='no-writes'}", "flags argument to redis.register_function must be a table"),
    ("#!lua name=a\nredis.register_function{function_name='f', callback=function() end, "
     "flags={'bad'}}", "unknown flag given"),
    ("#!lua name=a\nredis.register_function{function_name='f', callback=function() end, "
     "flags={{}}}", "unknown flag given"),
    ("#!lua name=a\nredis.register_function{function_name='f', callback=function() end, "
     "other=1}", "unknown argument given to redis.register_function"),
    ("#!lua name=a\nredis.register_function{[1]='f'}", "unknown argument given"),
    ("#!lua name=a\nredis.register_function{[true]='f'}", "key given to redis.register_function"),
    ("#!lua name=a\nredis.register_function('f-g', function() end)", "Library names can only"),
    ("#!lua name=a\nredis.register_function('', function() end)", "Library names can only"),
    ("#!lua name=a\nredis.register_function('f', function() end)\n"
     "redis.register_function('f', function() end)", "Function already exists in the library"),
    ("#!lua name=a\nredis.register_function('f', function() end)\n"
     "redis.register_function('F', function() end)", "a"),
    ("#!lua name=a\nredis.register_function(12, function() return 12 end)", "a"),
    ("#!lua name=a\nredis.register_function{FUNCTION_NAME='f', CallBack=function() end, "
     "Flags={'No-Writes', 'allow-oom', 'ALLOW-STALE', 'no-cluster', 'allow-cross-slot-keys'},"
     " description='all the flags'}", "a"),
    ("#!lua name=a\nredis.register_function{function_name='f', callback=function() end, "
     "flags={}, description=''}", "a"),
    ("#!lua name=a\nwhile true do end", "FUNCTION LOAD timeout"),
]


@pytest.mark.parametrize("code,expect", LOAD_CASES, ids=range(len(LOAD_CASES)))
def test_function_load(d, code, expect):
    d.load(code, expect=expect)
    d.same("FUNCTION", "LIST", "WITHCODE", unordered=True)


def test_function_load_options(d):
    d.same("FUNCTION", "LOAD", expect="wrong number of arguments")
    d.same("FUNCTION", "LOAD", "REPLACE", expect="Missing library metadata")
    d.same("FUNCTION", "LOAD", "NOPE", SIMPLE, expect="Unknown option given: NOPE")
    d.same("FUNCTION", "LOAD", "NOPE\nX", SIMPLE, expect="Unknown option given: NOPE X")
    d.load(SIMPLE, expect="mylib")
    d.load(SIMPLE, expect="Library 'mylib' already exists")
    d.load(SIMPLE, "REPLACE", expect="mylib")
    d.load(SIMPLE, "replace", "REPLACE", expect="mylib")
    # a failed REPLACE keeps the old library
    d.load(lib("mylib", "return"), "REPLACE", expect="No functions registered")
    d.same("FCALL", "f", 0, expect=":1")
    # a function name another library has (case-insensitively), with and without REPLACE
    d.load(lib("other", "redis.register_function('F', function() return 2 end)"),
           expect="Function F already exists")
    d.load(lib("mylib", "redis.register_function('g', function() return 3 end)"), "REPLACE",
           expect="mylib")
    d.same("FCALL", "f", 0, expect="Function not found")
    d.same("FCALL", "G", 0, expect=":3")
    d.load(lib("other", "redis.register_function('F', function() return 2 end)"),
           expect="other")
    d.load(lib("third", "redis.register_function('x', function() end)\n"
                        "redis.register_function('g', function() end)"),
           expect="Function g already exists")
    d.load(lib("MyLib", "redis.register_function('h', function() return 4 end)"),
           expect="MyLib")
    d.same("FUNCTION", "LIST", "WITHCODE", unordered=True)
    d.same("FUNCTION", "STATS")


# --- FCALL / FCALL_RO ----------------------------------------------------------------------

LIBRARY = lib("calls", """
local function set(keys, args) return redis.call('SET', keys[1], args[1]) end
redis.register_function('set', set)
redis.register_function{function_name='get',
  callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}
redis.register_function{function_name='ro_write', callback=set, flags={'no-writes'}}
redis.register_function('echo', function(keys, args) return {keys, args, #keys, #args} end)
redis.register_function('fail', function() return redis.call('NOPE') end)
redis.register_function('raise', function() error('boom') end)
redis.register_function('raise_table', function() error({err='MY custom'}) end)
redis.register_function('err_reply', function() return redis.error_reply('given') end)
redis.register_function('status', function() return redis.status_reply('fine') end)
redis.register_function('globals', function() return KEYS end)
redis.register_function('setglobal', function() y = 1 end)
redis.register_function('types', function() return {1, 'two', 3.5, true, false, {ok='OK'}} end)
redis.register_function('resp3', function() redis.setresp(3) return redis.call('HGETALL', 'h') end)
redis.register_function{function_name='double', callback=function() return {double=1.5} end,
  flags={'no-writes'}}
redis.register_function('pcall', function() return redis.pcall('INCR', 'str') end)
redis.register_function('nested', function() return redis.call('FCALL', 'get', 0) end)
redis.register_function('eval', function() return redis.call('EVAL', 'return 1', 0) end)
redis.register_function('sha', function(keys, args) return redis.sha1hex(args[1]) end)
redis.register_function('libs', function()
  return {type(cjson), type(string.format), type(bit.band)} end)
redis.register_function('log', function()
  redis.log(redis.LOG_NOTICE, 'from a function') return redis.LOG_WARNING end)
""")


@pytest.fixture
def calls(d):
    d.load(LIBRARY, expect="calls")
    d.same("SET", "str", "text")
    d.same("HSET", "h", "a", "1")
    return d


CALLS = [
    ("FCALL", "set", 1, "k", "v"),
    ("FCALL", "SET", 1, "k2", "v2"),
    ("FCALL", "get", 1, "k"),
    ("FCALL_RO", "get", 1, "k"),
    ("FCALL_RO", "set", 1, "k", "v"),
    ("FCALL", "ro_write", 1, "k", "v"),
    ("FCALL_RO", "ro_write", 1, "k", "v"),
    ("FCALL", "echo", 2, "a", "b", "c"),
    ("FCALL", "echo", 0),
    ("FCALL", "echo", 3, "a", "b", "c"),
    ("FCALL", "echo", 4, "a", "b", "c"),
    ("FCALL", "echo", -1, "a"),
    ("FCALL", "echo", "x"),
    ("FCALL", "echo", " 1", "a"),
    ("FCALL", "echo", "01", "a"),
    ("FCALL", "echo", "99999999999999999999", "a"),
    ("FCALL", "nope", 0),
    ("FCALL", "nope", "x"),
    ("FCALL", "echo"),
    ("FCALL_RO", "echo"),
    ("FCALL", "fail", 0),
    ("FCALL", "raise", 0),
    ("FCALL", "raise_table", 0),
    ("FCALL", "err_reply", 0),
    ("FCALL", "status", 0),
    ("FCALL", "globals", 0),
    ("FCALL", "setglobal", 0),
    ("FCALL", "types", 0),
    ("FCALL", "resp3", 0),
    ("FCALL", "double", 0),
    ("FCALL", "pcall", 0),
    ("FCALL", "nested", 0),
    ("FCALL", "eval", 0),
    ("FCALL", "sha", 0, "abc"),
    ("FCALL", "libs", 0),
    ("FCALL", "log", 0),
    ("FCALL", "register", 0),
]


@pytest.mark.parametrize("command", CALLS, ids=[" ".join(map(str, c)) for c in CALLS])
def test_fcall(calls, command):
    calls.same(*command)
    calls.same("GET", "k")


def test_fcall_register_outside_load(d):
    d.load(lib("late", "local rf = redis.register_function\n"
                       "rf('late', function() rf('x', function() end) end)"), expect="late")
    d.same("FCALL", "late", 0, expect="can only be called on FUNCTION LOAD command")
    d.same("FUNCTION", "LIST", unordered=True)


def test_fcall_in_multi_and_from_scripts(calls):
    calls.same("MULTI")
    calls.same("FCALL", "set", 1, "m", "1")
    calls.same("FCALL_RO", "get", 1, "m")
    calls.same("EXEC")
    calls.same("EVAL", "return redis.call('FCALL', 'get', 1, 'm')", 0,
               expect="This Redis command is not allowed from script")
    calls.same("EVAL", "return redis.call('FUNCTION', 'LIST')", 0, expect="not allowed")


def test_library_upvalues_survive(d):
    d.load(lib("counter", "local n = 0\n"
                          "redis.register_function('next', function() n = n + 1 return n end)"))
    for _ in range(3):
        d.same("FCALL", "next", 0)
    d.load(lib("counter", "local n = 10\n"
                          "redis.register_function('next', function() n = n + 1 return n end)"),
           "REPLACE")
    d.same("FCALL", "next", 0, expect=":11")


# --- FUNCTION LIST / DELETE / FLUSH / STATS / HELP / KILL -----------------------------------

def test_function_list(d):
    d.same("FUNCTION", "LIST")
    d.load(lib("alpha", "redis.register_function{function_name='a1', callback=function() end,"
                        " description='first', flags={'allow-stale', 'no-writes'}}"))
    d.same("FUNCTION", "LIST")
    d.same("FUNCTION", "LIST", "WITHCODE")
    d.load(lib("beta", "redis.register_function('b1', function() end)"))
    d.same("FUNCTION", "LIST", unordered=True)
    for args in (("LIBRARYNAME", "alpha"), ("libraryname", "ALP*"), ("LIBRARYNAME", "b?ta"),
                 ("LIBRARYNAME", "none"), ("LIBRARYNAME", "*", "WITHCODE"),
                 ("WITHCODE", "LIBRARYNAME", "[a]*"), ("LIBRARYNAME",), ("WITHCODE", "WITHCODE"),
                 ("LIBRARYNAME", "a", "LIBRARYNAME", "b"), ("foo",), ("WITHCODE", "x\ny")):
        d.same("FUNCTION", "LIST", *args, unordered=True)


def test_function_delete_and_flush(d):
    d.load(SIMPLE)
    d.same("FUNCTION", "DELETE", "MYLIB", expect="Library not found")
    d.same("FUNCTION", "DELETE", "mylib", expect="OK")
    d.same("FUNCTION", "DELETE", "mylib", expect="Library not found")
    d.same("FCALL", "f", 0, expect="Function not found")
    d.same("FUNCTION", "DELETE")
    d.same("FUNCTION", "DELETE", "a", "b")
    d.load(SIMPLE)
    for args in (("x",), ("SYNC", "x"), ("sync",), ("ASYNC",), ()):
        d.same("FUNCTION", "FLUSH", *args)
    d.same("FUNCTION", "LIST")
    d.same("FUNCTION", "STATS")


def test_function_stats_help_kill(d):
    d.same("FUNCTION", "STATS")
    d.load(lib("two", "redis.register_function('x', function() end)\n"
                      "redis.register_function('y', function() end)"))
    d.same("FUNCTION", "STATS")
    d.same("FUNCTION", "STATS", "x")
    d.same("FUNCTION", "HELP")
    d.same("FUNCTION", "HELP", "x")
    d.same("FUNCTION", "KILL")
    d.same("FUNCTION", "KILL", "x")
    d.same("FUNCTION", "NOPE")
    d.same("FUNCTION")
    d.same("FUNCTION", "DUMP", "x")
    d.same("COMMAND", "INFO", "FCALL", "FCALL_RO", "FUNCTION", unordered=True)
    d.same("COMMAND", "GETKEYS", "FCALL", "x", "2", "k1", "k2", "a")


def test_info_counts(pair2):
    d = pair2
    d.load(lib("two", "redis.register_function('x', function() end)\n"
                      "redis.register_function('y', function() end)"))
    d.load(SIMPLE)
    for conn in (d.ours, d.theirs):
        info = bulk_value(conn.call(b"INFO", b"memory")) or b""
        fields = dict(line.split(b":", 1) for line in info.split(b"\r\n") if b":" in line)
        assert fields[b"number_of_functions"] == b"3"
        assert fields[b"number_of_libraries"] == b"2"
        assert int(fields[b"used_memory_vm_functions"]) > 0
        assert int(fields[b"used_memory_functions"]) > 0
    d.reset()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(library=st.text("ab_-1 Z.é\t", min_size=0, max_size=4),
       function=st.text("ab_-1 Z.é", min_size=0, max_size=4))
def test_names(pair2, library, function):
    code = f"#!lua name={library}\nredis.register_function('{function}', function() end)"
    reply = pair2.load(code)
    if reply[:1] == b"$":
        pair2.same("FCALL", function or "x", 0)
        pair2.same("FUNCTION", "DELETE", library)


# --- DUMP / RESTORE ------------------------------------------------------------------------

def test_restore_errors(d):
    d.same("FUNCTION", "RESTORE", "x")
    d.same("FUNCTION", "RESTORE", "0123456789")
    d.same("FUNCTION", "RESTORE", "x", "NOPE")
    d.same("FUNCTION", "RESTORE", "x", "FLUSH", "y")
    d.same("FUNCTION", "RESTORE")
    d.load(SIMPLE)
    payload = bulk_value(d.theirs.call(b"FUNCTION", b"DUMP"))
    assert payload is not None
    d.same("FUNCTION", "RESTORE", payload[:-1] + bytes([payload[-1] ^ 1]),
           expect="DUMP payload version or checksum are wrong")
    d.same("FUNCTION", "RESTORE", payload, expect="Library mylib already exists")
    d.same("FUNCTION", "RESTORE", payload, "APPEND", expect="already exists")
    d.same("FUNCTION", "RESTORE", payload, "REPLACE", expect="OK")
    d.same("FUNCTION", "RESTORE", payload, "flush", expect="OK")
    d.load(lib("clash", "redis.register_function('F', function() end)"),
           expect="Function F already exists")
    d.same("FUNCTION", "DELETE", "mylib")
    d.load(lib("clash", "redis.register_function('F', function() end)"))
    d.same("FUNCTION", "RESTORE", payload, "REPLACE", expect="Function f already exists")
    d.same("FUNCTION", "LIST", "WITHCODE")
    # a payload that is not functions, and an empty one (version 10 and its CRC)
    key_dump = bulk_value(d.theirs.call(b"DUMP", b"nokey"))
    assert key_dump is None
    d.same("SET", "k", "v")
    key_dump = bulk_value(d.theirs.call(b"DUMP", b"k"))
    d.same("FUNCTION", "RESTORE", key_dump, expect="given type is not a function")
    d.same("FUNCTION", "FLUSH")
    empty = bulk_value(d.theirs.call(b"FUNCTION", b"DUMP"))
    d.same("FUNCTION", "RESTORE", empty, expect="OK")


def _codes(conn: RawConnection) -> list[bytes]:
    """Each library's code, sorted (FUNCTION LIST WITHCODE in RESP2)."""
    libraries = elements(conn.call(b"FUNCTION", b"LIST", b"WITHCODE"))
    return sorted(bulk_value(elements(item)[7]) or b"" for item in libraries)


LIBRARIES = [
    lib("one", "redis.register_function{function_name='one', callback=function() return 1 end,"
               " flags={'no-writes'}, description='the first one, the first one, the first'}"),
    lib("two", "redis.register_function('two', function(k, a) return redis.call('GET', k[1]) "
               "end)\n" + "-- padding padding padding padding padding\n" * 20),
    lib("three", "redis.register_function('three', function() return 3 end)\n"
                 "redis.register_function('trois', function() return 3 end)"),
]


@pytest.mark.parametrize("source", ["valkdb", "redis"])
def test_dump_restore_across(pair2, source):
    d = pair2
    for code in LIBRARIES:
        d.load(code)
    src, dst = (d.ours, d.theirs) if source == "valkdb" else (d.theirs, d.ours)
    payload = bulk_value(src.call(b"FUNCTION", b"DUMP"))
    assert payload is not None
    assert dst.call(b"FUNCTION", b"FLUSH") == b"+OK\r\n"
    assert dst.call(b"FUNCTION", b"RESTORE", payload) == b"+OK\r\n"
    assert _codes(dst) == _codes(src) == sorted(code.encode() for code in LIBRARIES)
    d.same("FUNCTION", "LIST", "WITHCODE", unordered=True)
    d.same("FCALL", "trois", 0)
    # APPEND names the first library that collides, in the hash table's order
    for conn in (d.ours, d.theirs):
        reply = conn.call(b"FUNCTION", b"RESTORE", payload, b"APPEND")
        assert reply.startswith(b"-ERR Library ") and reply.endswith(b" already exists\r\n")
    for policy in (b"REPLACE", b"FLUSH"):
        d.same("FUNCTION", "RESTORE", payload, policy, expect="OK")
    d.reset()


# --- busy functions ------------------------------------------------------------------------

def _busy_replies(port: int) -> dict[str, bytes]:
    conn = RawConnection(port)
    assert conn.call(b"CONFIG", b"SET", b"busy-reply-threshold", b"100") == b"+OK\r\n"
    conn.call(b"FUNCTION", b"LOAD", b"REPLACE", lib(
        "busy", "redis.register_function{function_name='spin', callback=function() "
                "while true do end end, flags={'no-writes'}}").encode())
    result: dict[str, bytes] = {}
    runner = RawConnection(port, timeout=10)

    def run() -> None:
        result["fcall"] = runner.call(b"FCALL", b"spin", b"0")

    thread = threading.Thread(target=run)
    thread.start()
    other = RawConnection(port)
    deadline = time.monotonic() + 5
    while (reply := other.call(b"PING"))[:5] != b"-BUSY" and time.monotonic() < deadline:
        time.sleep(0.02)
    result["ping"] = reply
    stats = elements(other.call(b"FUNCTION", b"STATS"))
    running = elements(stats[1])
    result["stats"] = b"".join(running[:5]) + stats[2] + stats[3]  # not the duration
    result["script kill"] = other.call(b"SCRIPT", b"KILL")
    result["eval"] = other.call(b"EVAL", b"return 1", b"0")
    result["function kill"] = other.call(b"FUNCTION", b"KILL")
    thread.join(10)
    result["after"] = other.call(b"FUNCTION", b"STATS")
    assert other.call(b"FUNCTION", b"DELETE", b"busy") == b"+OK\r\n"
    assert other.call(b"CONFIG", b"SET", b"busy-reply-threshold", b"5000") == b"+OK\r\n"
    for conn_ in (conn, runner, other):
        conn_.close()
    return result


def test_busy_function(valkdb_server, redis_server):
    ours, theirs = _busy_replies(valkdb_server.port), _busy_replies(redis_server.port)
    assert ours == theirs
    assert b"FUNCTION KILL" in theirs["ping"]
    assert theirs["function kill"] == b"+OK\r\n"


# --- propagation and persistence -----------------------------------------------------------

def _wait_loaded(conn: RawConnection) -> None:
    deadline = time.monotonic() + 10
    while conn.call(b"PING")[:8] == b"-LOADING" and time.monotonic() < deadline:
        time.sleep(0.05)


def _populate(port: int) -> None:
    conn = RawConnection(port)
    for code in LIBRARIES:
        assert conn.call(b"FUNCTION", b"LOAD", code.encode())[:1] == b"$"
    assert conn.call(b"FUNCTION", b"LOAD", SIMPLE.encode()) == b"$5\r\nmylib\r\n"
    assert conn.call(b"FUNCTION", b"DELETE", b"mylib") == b"+OK\r\n"
    assert conn.call(b"SET", b"k", b"v") == b"+OK\r\n"
    conn.close()


@pytest.mark.parametrize("direction", ["valkdb->redis", "redis->valkdb"])
def test_rdb_interop(tmp_path, direction):
    first, second = ((start_valkdb, start_redis) if direction == "valkdb->redis"
                     else (start_redis, start_valkdb))
    writer = first()
    try:
        _populate(writer.port)
        conn = RawConnection(writer.port)
        assert conn.call(b"SAVE") == b"+OK\r\n"
        expected = _codes(conn)
        conn.close()
        path = os.path.join(writer.cwd, "dump.rdb")
        target_dir = tmp_path / "target"
        target_dir.mkdir()
        shutil.copy(path, target_dir / "dump.rdb")
    finally:
        writer.stop()
    reader = (second("--dir", str(target_dir)) if second is start_redis
              else second(cwd=str(target_dir)))
    try:
        conn = RawConnection(reader.port)
        _wait_loaded(conn)
        assert _codes(conn) == expected == sorted(code.encode() for code in LIBRARIES)
        assert conn.call(b"GET", b"k") == b"$1\r\nv\r\n"
        assert conn.call(b"FCALL", b"two", b"1", b"k") == b"$1\r\nv\r\n"
        conn.close()
    finally:
        reader.stop()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_aof_replay_and_rewrite(tmp_path, preamble):
    """valkdb's AOF (its INCR file with FUNCTION LOAD / DELETE as sent, then a rewritten BASE)
    rebuilds the libraries in valkdb and in redis-server."""
    server = start_valkdb("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    try:
        conn = RawConnection(server.port)
        _wait_loaded(conn)
        _populate(server.port)
        assert conn.call(b"FCALL", b"three", b"0") == b":3\r\n"
        expected = _codes(conn)
        conn.close()
        incr = server.cwd + "/appendonlydir"
        snapshot_incr = tmp_path / "incr"
        shutil.copytree(incr, snapshot_incr)
        conn = RawConnection(server.port)
        assert conn.call(b"BGREWRITEAOF")[:1] == b"+"
        deadline = time.monotonic() + 10
        while (b"aof_rewrite_in_progress:1" in (bulk_value(conn.call(b"INFO", b"persistence"))
                                                or b"")) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        conn.close()
    finally:
        server.stop()
    for directory in (snapshot_incr, server.cwd + "/appendonlydir"):
        for start in (start_valkdb, start_redis):
            target = tmp_path / f"run-{start.__name__}"
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            shutil.copytree(directory, target / "appendonlydir")
            process = (start("--dir", str(target), "--appendonly", "yes")
                       if start is start_redis
                       else start("--appendonly", "yes", cwd=str(target)))
            try:
                conn = RawConnection(process.port)
                _wait_loaded(conn)
                assert _codes(conn) == expected, (directory, start.__name__)
                assert conn.call(b"GET", b"k") == b"$1\r\nv\r\n"
                conn.close()
            finally:
                process.stop()


def test_function_commands_propagate(valkdb_server):
    """The FUNCTION commands that change the libraries count as changes (what the dispatcher
    propagates and save points count); FCALL's writes propagate as its commands."""
    conn = RawConnection(valkdb_server.port)

    def dirty() -> int:
        info = bulk_value(conn.call(b"INFO", b"persistence")) or b""
        line = next(x for x in info.split(b"\r\n") if x.startswith(b"rdb_changes_since"))
        return int(line.split(b":")[1])

    before = dirty()
    assert conn.call(b"FUNCTION", b"LOAD", SIMPLE.encode())[:1] == b"$"
    assert conn.call(b"FUNCTION", b"LOAD", SIMPLE.encode())[:1] == b"-"
    assert conn.call(b"FUNCTION", b"DELETE", b"mylib") == b"+OK\r\n"
    assert conn.call(b"FUNCTION", b"DELETE", b"mylib")[:1] == b"-"
    assert conn.call(b"FUNCTION", b"FLUSH") == b"+OK\r\n"
    assert dirty() - before == 3
    conn.close()
