"""Differential tests of Lua scripting (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT ...) against a
real redis-server 7.0, reply bytes compared in RESP2 and RESP3.

Every case sends the same command to the server under test and to redis-server and compares the
raw replies. Errors carry the script's SHA1 ("script: <sha>, on @user_script:1."), which is the
same on both sides since it is the SHA1 of the same body. Many cases also name a piece of what
redis-server itself must answer (``expect``): that checks the test rather than the server, so a
case cannot pass by both sides failing the same wrong way (a typo in the Lua, say).

Redis's behaviour pinned here that may surprise (all seen on redis-server 7.0.15):

* numbers: a Lua number becomes an integer by C truncation (3.7 -> :3, -0.5 -> :0) and anything
  out of the int64 range, inf and nan included, becomes :-9223372036854775808.
* ``{double=...}``, ``{map=...}``, ``{set=...}``, ``{big_number=...}``,
  ``{verbatim_string=...}`` and booleans after ``redis.setresp(3)`` are converted for RESP2
  callers too (a double as a bulk string, a map flattened, true/false as :1/:0).
* ``{err='x'}`` is sent as ``-x`` but ``redis.error_reply('x')`` as ``-ERR x``.
* ``pcall`` is Redis's own wrapper: an error raised as a table reaches the caller of pcall as
  the table's ``err`` string; xpcall's handler gets the table itself, with
  ``ignore_error_stats_update=true`` in it.
* math.random is not reseeded per script in 7.0: the generator runs on from one EVAL to the next
  (and from SCRIPT FLUSH on); math.randomseed(n) makes it deterministic.
* BLMPOP and BZMPOP are allowed in scripts and never block; BLPOP & co. are refused.
* redis-server 7.0.15 crashes (SIGSEGV) on ``error({})`` and ``error({err={}})``: not tested.

Normalisations: the entries of a ``{map=...}`` or ``{set=...}`` reply with several entries come
in Lua's table traversal order, which Redis does not specify: those cases (``unordered``) compare
the entries sorted. math.random without a seed depends on each server's history: only the
seeded sequences are compared. INFO fields are compared by name, plus the exact counters.

VALKDB_SCRIPT_TESTS_SELF=1 runs every test with a second redis-server in valkdb's place, to
validate the tests themselves.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import math
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.compat.differ import Differ, Divergence
from tests.compat.resp import RawConnection, encode_command, read_reply, sorted_form
from tests.support import redis_server_binary, start_redis

pytestmark = pytest.mark.skipif(redis_server_binary() is None, reason="needs redis-server")

SELF = os.environ.get("VALKDB_SCRIPT_TESTS_SELF") == "1"

# A canonical rendering of any Lua value on one line (so error positions stay line 1): strings
# quoted with %q, numbers with %.17g, tables with their keys sorted.
D = (
    "local D D = function(v) local t = type(v) "
    "if t == 'string' then return string.format('%q', v) "
    "elseif t == 'number' then if v ~= v then return 'nan' end "
    "if v == 0 and 1 / v < 0 then return '-0' end return string.format('%.17g', v) "
    "elseif t == 'table' then local keys = {} for k in pairs(v) do keys[#keys + 1] = k end "
    "table.sort(keys, function(a, b) return type(a) .. D(a) < type(b) .. D(b) end) "
    "local out = {} for _, k in ipairs(keys) do out[#out + 1] = '[' .. D(k) .. ']=' .. D(v[k]) "
    "end return '{' .. table.concat(out, ',') .. '}' "
    "else return tostring(v) end end "
)

UNKNOWN_SHA = "ffffffffffffffffffffffffffffffffffffffff"


def sha1(body: str | bytes) -> str:
    return hashlib.sha1(body.encode() if isinstance(body, str) else body).hexdigest()


def lua_string(data: bytes) -> str:
    """A Lua string literal for any bytes (decimal escapes, always three digits)."""
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.:,;!?*+/=()<>"
    return "'" + "".join(chr(c) if c in safe else f"\\{c:03d}" for c in data) + "'"


def _b(arg: object) -> bytes:
    if isinstance(arg, bytes):
        return arg
    return str(arg).encode()


# --- a canonical form of a reply, for the `unordered` cases ---------------------------------

def canonical(reply: bytes, unordered: str) -> object:
    """The reply with RESP3 map and set entries sorted, and a top-level RESP2 array sorted
    too: as (key, value) pairs when `unordered` is "map" (how a map reaches a RESP2 caller),
    as elements when it is "set"."""
    kind, value = sorted_form(reply)  # type: ignore[misc]
    if kind == b"*" and value is not None:
        if unordered == "map" and len(value) % 2 == 0:
            value = sorted(zip(value[::2], value[1::2], strict=True), key=repr)
        else:
            value = sorted(value, key=repr)
    return kind, value


class Pair(Differ):
    """Differ with script helpers: every reply compared, errors explained with both replies."""

    def same(self, *args: object, expect: bytes | str | None = None,
             unordered: str = "") -> bytes:
        command = tuple(_b(a) for a in args)
        ours, theirs = self.both(*command)
        if expect is not None and _b(expect) not in theirs:
            raise AssertionError(
                f"the test is wrong: redis-server answered {theirs!r} to {command!r}, "
                f"which does not contain {_b(expect)!r}")
        if ours == theirs:
            return theirs
        if unordered and ours[:1] == theirs[:1]:
            try:
                if canonical(ours, unordered) == canonical(theirs, unordered):
                    return theirs
            except (ValueError, IndexError):
                pass
        raise Divergence(self._explain(ours, theirs))

    def check(self, *args: object) -> bytes:
        """Differ.check (with its TTL tolerance) for str or bytes arguments."""
        return super().check(*(_b(a) for a in args))

    def eval(self, script: str | bytes, keys: tuple = (), args: tuple = (),
             command: str = "EVAL", **kwargs) -> bytes:
        return self.same(command, script, len(keys), *keys, *args, **kwargs)

    def theirs_call(self, *args: object) -> bytes:
        return self.theirs.call(*(_b(a) for a in args))

    def ours_call(self, *args: object) -> bytes:
        return self.ours.call(*(_b(a) for a in args))

    def setup(self, *commands: tuple) -> None:
        """Commands whose replies must agree (data for the test); not themselves the point."""
        for command in commands:
            self.same(*command)


@pytest.fixture(scope="module")
def subject(request):
    """The server under test: the session's valkdb, or with VALKDB_SCRIPT_TESTS_SELF=1 a second
    redis-server (to check that the tests pass where they must)."""
    if SELF:
        server = start_redis()
        yield server
        server.stop()
    else:
        yield request.getfixturevalue("valkdb_server")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def d(request, subject, redis_server):
    pair = Pair(subject.port, redis_server.port, request.param)
    yield pair
    pair.close()


@pytest.fixture(scope="module")
def pairs(subject, redis_server):
    """One pair per protocol for the hypothesis tests (module-scoped: examples share them)."""
    both = {2: Pair(subject.port, redis_server.port, 2),
            3: Pair(subject.port, redis_server.port, 3)}
    yield both
    for pair in both.values():
        pair.close()


def skip_unless_known(d: Pair, *names: str) -> None:
    """Skip when the server under test lacks a (non-scripting) command the case relies on, as
    other command families are written in parallel."""
    for name in names:
        if d.ours_call("COMMAND", "INFO", name)[4:] in (b"$-1\r\n", b"_\r\n"):
            pytest.skip(f"the server under test has no {name.upper()} yet")


# --- EVAL / EVALSHA / EVAL_RO / EVALSHA_RO argument errors ----------------------------------

def _numkeys_cases(command: str) -> list:
    body = "return {KEYS[1], ARGV[1]}"
    cases = [
        ((command,), "wrong number of arguments"),
        ((command, body), "wrong number of arguments"),
        ((command, body, "x"), "value is not an integer or out of range"),
        ((command, body, ""), "value is not an integer"),
        ((command, body, "1.5", "a"), "value is not an integer"),
        ((command, body, " 1", "a"), "value is not an integer"),
        ((command, body, "+1", "a"), "value is not an integer"),
        ((command, body, "01", "a"), "value is not an integer"),
        ((command, body, "-0"), "value is not an integer"),
        ((command, body, "0x1", "a"), "value is not an integer"),
        ((command, body, "99999999999999999999"), "value is not an integer"),
        ((command, body, "-1"), "Number of keys can't be negative"),
        ((command, body, "-9223372036854775808"), "Number of keys can't be negative"),
        ((command, body, "2", "a"), "Number of keys can't be greater than number of args"),
        ((command, body, "9223372036854775807"), "can't be greater than number of args"),
        ((command, body, "1"), "can't be greater than number of args"),
        ((command, body, "0"), None),
        ((command, body, "0", "a", "b"), None),
        ((command, body, "1", "k"), None),
        ((command, body, "1", "k", "a"), None),
        ((command, body, "2", "k", "a"), None),
        ((command.lower(), body, "1", "k", "a"), None),
    ]
    return [pytest.param(args, expect, id=f"{command}-{i}") for i, (args, expect)
            in enumerate(cases)]


def _sha_cases(command: str) -> list:
    cases = [
        ((command,), "wrong number of arguments"),
        ((command, "abc"), "wrong number of arguments"),
        ((command, "abc", "0"), "NOSCRIPT No matching script. Please use EVAL."),
        ((command, "abc", "x"), "NOSCRIPT"),
        ((command, "abc", "-1"), "NOSCRIPT"),
        ((command, "", "0"), "NOSCRIPT"),
        ((command, UNKNOWN_SHA, "0"), "NOSCRIPT"),
        ((command, UNKNOWN_SHA.upper(), "0"), "NOSCRIPT"),
        ((command, UNKNOWN_SHA + "f", "0"), "NOSCRIPT"),
        ((command, UNKNOWN_SHA, "x"), "value is not an integer"),
        ((command, UNKNOWN_SHA, "-1"), "can't be negative"),
        ((command, UNKNOWN_SHA, "5"), "can't be greater"),
    ]
    return [pytest.param(args, expect, id=f"{command}-{i}") for i, (args, expect)
            in enumerate(cases)]


@pytest.mark.parametrize(("args", "expect"), _numkeys_cases("EVAL") + _numkeys_cases("EVAL_RO"))
def test_eval_arguments(d, args, expect):
    d.same(*args, expect=expect)


@pytest.mark.parametrize(("args", "expect"),
                         _sha_cases("EVALSHA") + _sha_cases("EVALSHA_RO"))
def test_evalsha_arguments(d, args, expect):
    d.same(*args, expect=expect)


@pytest.mark.parametrize("command", ["EVALSHA", "EVALSHA_RO", "evalsha"])
def test_evalsha_arguments_of_a_cached_script(d, command):
    body = "return {KEYS[1], ARGV[1], #KEYS, #ARGV}"
    sha = sha1(body)
    d.same("SCRIPT", "LOAD", body, expect=sha)
    d.same(command, sha, "x", expect="not an integer")
    d.same(command, sha, "-1", expect="negative")
    d.same(command, sha, "2", "k", expect="greater")
    d.same(command, sha, "0", expect="*0\r\n")  # KEYS[1] is nil: the array stops
    d.same(command, sha, "1", "k", "a", expect="$1\r\nk\r\n$1\r\na\r\n:1\r\n:1\r\n")
    d.same(command, sha.upper(), "1", "k", expect="$1\r\nk\r\n")
    d.same(command, sha[:39], "0", expect="NOSCRIPT")


# --- SCRIPT ----------------------------------------------------------------------------------

SCRIPT_COMMANDS = [
    (("SCRIPT",), "wrong number of arguments for 'script' command"),
    (("SCRIPT", "LOAD"), "wrong number of arguments for 'script|load' command"),
    (("SCRIPT", "LOAD", "return 1", "x"), "wrong number of arguments"),
    (("SCRIPT", "EXISTS"), "wrong number of arguments for 'script|exists' command"),
    (("SCRIPT", "EXISTS", UNKNOWN_SHA, "abc", ""), "*3\r\n:0\r\n:0\r\n:0\r\n"),
    (("SCRIPT", "FLUSH", "x"), "SCRIPT FLUSH only support SYNC|ASYNC option"),
    (("SCRIPT", "FLUSH", "ASYNC", "x"), "SCRIPT FLUSH only support SYNC|ASYNC option"),
    (("SCRIPT", "FLUSH", "SYNC", "ASYNC"), "only support SYNC|ASYNC"),
    (("SCRIPT", "FLUSH"), "+OK"),
    (("SCRIPT", "FLUSH", "ASYNC"), "+OK"),
    (("SCRIPT", "FLUSH", "async"), "+OK"),
    (("SCRIPT", "FLUSH", "SYNC"), "+OK"),
    (("SCRIPT", "FLUSH", "sync"), "+OK"),
    (("SCRIPT", "KILL"), "NOTBUSY No scripts in execution right now."),
    (("SCRIPT", "kill"), "NOTBUSY"),
    (("SCRIPT", "KILL", "x"), "wrong number of arguments for 'script|kill' command"),
    (("SCRIPT", "foo"), "unknown subcommand 'foo'. Try SCRIPT HELP."),
    (("SCRIPT", "FOO", "bar"), "unknown subcommand 'FOO'. Try SCRIPT HELP."),
    (("SCRIPT", "HELP"), "+SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"),
    (("SCRIPT", "help"), "+DEBUG (YES|SYNC|NO)"),
    (("SCRIPT", "HELP", "x"), "wrong number of arguments for 'script|help' command"),
    (("SCRIPT", "DEBUG"), "wrong number of arguments for 'script|debug' command"),
    (("SCRIPT", "DEBUG", "x"), "Use SCRIPT DEBUG YES/SYNC/NO"),
    (("SCRIPT", "DEBUG", "no", "x"), "wrong number of arguments"),
    (("SCRIPT", "DEBUG", "NO"), "+OK"),
    (("SCRIPT", "DEBUG", "no"), "+OK"),
    (("script", "load", "return 'x'"), sha1("return 'x'")),
    (("SCRIPT", "LOAD", ""), sha1("")),
    (("SCRIPT", "LOAD", "return ("),
     "Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"),
    (("SCRIPT", "LOAD", "#!lua\nreturn ("), "user_script:2: unexpected symbol near '<eof>'"),
    (("SCRIPT", "LOAD", "#!lua flags=bogus\nreturn 1"), "Unexpected flag in script shebang"),
    (("SCRIPT", "LOAD", "#!python\nreturn 1"), "Unexpected engine in script shebang: #!python"),
    (("SCRIPT", "LOAD", "#!lua name=x\nreturn 1"), "Unknown lua shebang option: name=x"),
    (("SCRIPT", "LOAD", "#!lua flags=no-writes\nreturn 1"),
     sha1("#!lua flags=no-writes\nreturn 1")),
    (("FUNCTION", "KILL"), "NOTBUSY No scripts in execution right now."),
]


@pytest.mark.parametrize(("args", "expect"),
                         [pytest.param(a, e, id=" ".join(a)[:40]) for a, e in SCRIPT_COMMANDS])
def test_script_subcommands(d, args, expect):
    if args[0] == "FUNCTION":
        skip_unless_known(d, "function")
    d.same(*args, expect=expect)


def test_script_cache_lifecycle(d):
    body = "return 'cached'"
    sha = sha1(body)
    d.same("SCRIPT", "FLUSH", expect="+OK")
    d.same("SCRIPT", "EXISTS", sha, expect="*1\r\n:0\r\n")
    d.same("EVALSHA", sha, "0", expect="NOSCRIPT")
    d.eval(body, expect="cached")
    d.same("SCRIPT", "EXISTS", sha, sha.upper(), UNKNOWN_SHA, expect="*3\r\n:1\r\n:1\r\n:0\r\n")
    d.same("EVALSHA", sha, "0", expect="cached")
    d.same("EVALSHA_RO", sha, "0", expect="cached")
    d.same("SCRIPT", "FLUSH", "ASYNC", expect="+OK")
    d.same("SCRIPT", "EXISTS", sha, expect=":0")
    d.same("SCRIPT", "LOAD", body, expect=sha)
    d.same("SCRIPT", "LOAD", body, expect=sha)
    d.same("SCRIPT", "EXISTS", sha, expect=":1")
    d.same("SCRIPT", "FLUSH", "SYNC", expect="+OK")
    d.same("SCRIPT", "EXISTS", sha, expect=":0")
    # a body that does not compile is not cached, by EVAL or by SCRIPT LOAD
    for bad in ("return (", "#!lua flags=bogus\nreturn 1"):
        d.eval(bad, expect="-ERR")
        d.same("SCRIPT", "LOAD", bad, expect="-ERR")
        d.same("SCRIPT", "EXISTS", sha1(bad), expect=":0")
    # a runtime error does not uncache
    d.eval("return redis.call('nosuch')", expect="-ERR")
    d.same("SCRIPT", "EXISTS", sha1("return redis.call('nosuch')"), expect=":1")
    d.same("EVALSHA", sha1("return redis.call('nosuch')"), "0", expect="Unknown Redis command")


def test_script_flush_inside_multi(d):
    body = "return 'm'"
    sha = sha1(body)
    d.same("SCRIPT", "FLUSH", expect="+OK")
    d.same("MULTI", expect="+OK")
    d.same("SCRIPT", "LOAD", body, expect="QUEUED")
    d.same("EVALSHA", sha, "0", expect="QUEUED")
    d.same("SCRIPT", "FLUSH", expect="QUEUED")
    d.same("EVALSHA", sha, "0", expect="QUEUED")
    d.same("SCRIPT", "KILL", expect="QUEUED")
    d.same("EXEC", expect="NOTBUSY")


# --- Lua -> RESP -----------------------------------------------------------------------------

TO_RESP = [
    ("return 'abc'", "$3\r\nabc\r\n"),
    ("return ''", "$0\r\n\r\n"),
    ("return 'a\\0b'", "a\x00b"),
    ("return 42", ":42\r\n"),
    ("return -7", ":-7\r\n"),
    ("return 3.7", ":3\r\n"),
    ("return -3.7", ":-3\r\n"),
    ("return -0.5", ":0\r\n"),
    ("return 0.99999", ":0\r\n"),
    ("return -0.0", ":0\r\n"),
    ("return 1e15", ":1000000000000000\r\n"),
    ("return 2^53 + 1", ":9007199254740992\r\n"),
    ("return 12345678901234567", ":12345678901234568\r\n"),
    ("return -9223372036854775808", ":-9223372036854775808\r\n"),
    ("return 9223372036854775807", ":-9223372036854775808\r\n"),
    ("return 2^63", ":-9223372036854775808\r\n"),
    ("return 1e20", ":-9223372036854775808\r\n"),
    ("return -1e20", ":-9223372036854775808\r\n"),
    ("return 1e300", ":-9223372036854775808\r\n"),
    ("return 0/0", ":-9223372036854775808\r\n"),
    ("return 1/0", ":-9223372036854775808\r\n"),
    ("return -1/0", ":-9223372036854775808\r\n"),
    ("return math.huge", ":-9223372036854775808\r\n"),
    ("return 2^0.5", ":1\r\n"),
    ("return true", ":1\r\n"),
    ("return false", None),
    ("return nil", None),
    ("return", None),
    ("", None),
    ("-- a comment only", None),
    ("local a = 1", None),
    ("return 1, 2", ":1\r\n"),
    ("return unpack({5, 6, 7})", ":5\r\n"),
    ("return function() end", None),
    ("return coroutine.create(function() end)", None),
    ("return cjson.null", None),
    ("return {}", "*0\r\n"),
    ("return {1, 2, 3}", "*3\r\n:1\r\n:2\r\n:3\r\n"),
    ("return {1, 2, nil, 4}", "*2\r\n:1\r\n:2\r\n"),
    ("return {nil, 1}", "*0\r\n"),
    ("return {[1] = 'a', [3] = 'c'}", "*1\r\n$1\r\na\r\n"),
    ("local t = {} t[1.5] = 'x' return t", "*0\r\n"),
    ("return {n = 1}", "*0\r\n"),
    ("return {1, n = 1, x = 'y'}", "*1\r\n:1\r\n"),
    ("return {false, 1}", "*2\r\n"),
    ("return {true, 1}", "*2\r\n:1\r\n:1\r\n"),
    ("return {'', 'a'}", "*2\r\n$0\r\n\r\n$1\r\na\r\n"),
    ("return {{}}", "*1\r\n*0\r\n"),
    ("return {{}, 1}", "*2\r\n*0\r\n:1\r\n"),
    ("return {1.5, 2.5, -1.5}", "*3\r\n:1\r\n:2\r\n:-1\r\n"),
    ("return {1, {2, {3, 'x'}}, true, false}", "*4\r\n:1\r\n*2\r\n:2\r\n*2\r\n:3\r\n"),
    ("local t = {} for i = 1, 1000 do t[i] = i end return t", "*1000\r\n"),
    ("local t = {} local c = t for i = 1, 100 do c[1] = {} c = c[1] end return t", "*1\r\n*0"),
    ("return KEYS", "*0\r\n"),
    ("return {ok = 'fine'}", "+fine\r\n"),
    ("return {ok = ''}", "+\r\n"),
    ("return {ok = 'x\\r\\ny'}", "+x  y\r\n"),
    ("return {ok = 'x\\ny'}", "+x y\r\n"),
    ("return {ok = 1}", "*0\r\n"),
    ("return {ok = {}}", "*0\r\n"),
    ("return {err = 'bad'}", "-bad\r\n"),
    ("return {err = 'ERR bad'}", "-ERR bad\r\n"),
    ("return {err = 'MYERR bad'}", "-MYERR bad\r\n"),
    ("return {err = ''}", "-\r\n"),
    ("return {err = 'x\\r\\ny'}", "-x  y\r\n"),
    ("return {err = 'x\\ny'}", "-x y\r\n"),
    ("return {err = 1}", "*0\r\n"),
    ("return {ok = 'a', err = 'b'}", "-b\r\n"),
    ("return {1, ok = 'x'}", "+x\r\n"),
    ("return {err = 'a', map = {x = 1}}", "-a\r\n"),
    ("return {ok = 'a', double = 1}", "+a\r\n"),
    ("return redis.error_reply('x y')", "-x y\r\n"),
    ("return redis.error_reply('-x y')", "-x y\r\n"),
    ("return redis.error_reply('MY custom')", "-MY custom\r\n"),
    ("return redis.error_reply('nospace')", "-ERR nospace\r\n"),
    ("return redis.error_reply('')", "-ERR \r\n"),
    ("return redis.error_reply()", "-ERR wrong number or type of arguments\r\n"),
    ("return redis.error_reply(1)", "-ERR wrong number or type of arguments\r\n"),
    ("return redis.error_reply('a', 'b')", "-ERR wrong number or type of arguments\r\n"),
    ("return redis.status_reply('PONG')", "+PONG\r\n"),
    ("return redis.status_reply('a\\r\\nb')", "+a  b\r\n"),
    ("return redis.status_reply({})", "-ERR wrong number or type of arguments\r\n"),
    ("return redis.status_reply()", "-ERR wrong number or type of arguments\r\n"),
    ("return {redis.error_reply('E1'), redis.status_reply('S1')}", "*2\r\n-ERR E1\r\n+S1\r\n"),
    ("return {{ok = 'x'}, {err = 'y'}, {double = 1.5}}", "*3\r\n+x\r\n-y\r\n"),
    ("return {double = 3.5}", "3.5\r\n"),
    ("return {double = 3}", "3\r\n"),
    ("return {double = 0.1}", "0.10000000000000001\r\n"),
    ("return {double = -0.0}", "-0\r\n"),
    ("return {double = 1e300}", "1.0000000000000001e+300\r\n"),
    ("return {double = 1/0}", "inf\r\n"),
    ("return {double = -1/0}", "-inf\r\n"),
    ("return {double = 0/0}", "nan\r\n"),
    ("return {double = '3.5'}", "*0\r\n"),
    ("return {double = 'abc'}", "*0\r\n"),
    ("return {double = true}", "*0\r\n"),
    ("return {double = {}}", "*0\r\n"),
    ("return {double = 1, map = {x = 1}}", "1\r\n"),
    ("return {map = {a = 1}}", "$1\r\na\r\n:1\r\n"),
    ("return {map = {}}", "0\r\n"),
    ("return {map = 'x'}", "*0\r\n"),
    ("return {map = {[1] = 'a'}}", ":1\r\n$1\r\na\r\n"),
    ("return {map = {[true] = 'a'}}", ":1\r\n$1\r\na\r\n"),
    ("return {map = {[1.5] = 'a'}}", ":1\r\n$1\r\na\r\n"),
    ("return {map = {a = {map = {b = {set = {c = true}}}}}}", "$1\r\nc\r\n"),
    ("return {map = {x = 1}, set = {y = true}}", "$1\r\nx\r\n:1\r\n"),
    ("return {set = {a = true}}", "$1\r\na\r\n"),
    ("return {set = {}}", "0\r\n"),
    ("return {set = 'x'}", "*0\r\n"),
    ("return {set = {[1] = true}}", ":1\r\n"),
    ("return {set = {a = false}}", "$1\r\na\r\n"),
    ("return {set = {y = true}, big_number = '1'}", "1\r\n"),
    ("return {big_number = '123'}", "123\r\n"),
    ("return {big_number = '-12345678901234567890123'}", "12345678901234567890123\r\n"),
    ("return {big_number = 'abc def'}", "abc def\r\n"),
    ("return {big_number = '1\\r\\n2'}", "1  2\r\n"),
    ("return {big_number = 123}", "*0\r\n"),
    ("return {big_number = '1', verbatim_string = {format = 'txt', string = 's'}}", "1\r\n"),
    ("return {verbatim_string = {format = 'txt', string = 'hi'}}", "hi\r\n"),
    ("return {verbatim_string = {format = 'mkd', string = 'a\\r\\nb'}}", "a\r\nb\r\n"),
    ("return {verbatim_string = {format = 'markdown', string = 'hi'}}", "hi\r\n"),
    ("return {verbatim_string = {format = 'x', string = ''}}", "\r\n"),
    ("return {verbatim_string = {format = 'mkd'}}", "*0\r\n"),
    ("return {verbatim_string = {string = 'x'}}", "*0\r\n"),
    ("return {verbatim_string = 'x'}", "*0\r\n"),
    ("return {{map = {a = 1}}, {set = {b = true}}}", "*2\r\n"),
    ("return cjson.decode('[1,2,\"x\",null,true]')", "*5\r\n:1\r\n:2\r\n$1\r\nx\r\n"),
]

# The same values after redis.setresp(3): booleans become RESP3 booleans (:1 / :0 for RESP2).
AFTER_SETRESP3 = [
    ("return true", None),
    ("return false", None),
    ("return nil", None),
    ("return {1, false, true}", "*3\r\n:1\r\n"),
    ("return {double = 3.5}", "3.5"),
    ("return {double = 0/0}", "nan"),
    ("return {map = {a = false}}", "$1\r\na\r\n"),
    ("return {set = {[false] = true}}", "1\r\n"),
    ("return {ok = 'x'}", "+x\r\n"),
    ("return {err = 'x'}", "-x\r\n"),
    ("return 3.7", ":3\r\n"),
    ("return {1, 2, nil, 4}", "*2\r\n"),
    ("redis.setresp(2) return false", None),
    ("return {big_number = '123'}", "123\r\n"),
    ("return {verbatim_string = {format = 'txt', string = 'hi'}}", "hi\r\n"),
    ("return {set = {a = true}}", "$1\r\na\r\n"),
    ("return {map = {a = {1, true}}}", "$1\r\na\r\n"),
    ("return redis.status_reply('S')", "+S\r\n"),
    ("return redis.error_reply('E')", "-ERR E\r\n"),
]

# (script, what a RESP2 caller gets the entries as)
UNORDERED = [
    ("return {map = {a = 1, b = 2, c = 3}}", "map"),
    ("return {map = {zeta = 1, alpha = {1, 2}, mid = {map = {x = 1}}, b = false}}", "map"),
    ("return {set = {a = true, b = true, c = true, d = true}}", "set"),
    ("return {set = {1, 2, 3, 'x', 'y'}}", "set"),
    ("return {map = {[1] = 'one', [2] = 'two', k = 'v'}}", "map"),
]


@pytest.mark.parametrize(("script", "expect"),
                         [pytest.param(s, e, id=s[:50]) for s, e in TO_RESP])
def test_lua_to_resp(d, script, expect):
    d.eval(script, expect=expect)


@pytest.mark.parametrize(("script", "expect"),
                         [pytest.param(s, e, id=s[:50]) for s, e in AFTER_SETRESP3])
def test_lua_to_resp_after_setresp3(d, script, expect):
    d.eval("redis.setresp(3) " + script, expect=expect)


@pytest.mark.parametrize(("script", "unordered"), UNORDERED)
@pytest.mark.parametrize("prefix", ["", "redis.setresp(3) "], ids=["resp2lua", "resp3lua"])
def test_lua_to_resp_unordered_maps_and_sets(d, script, unordered, prefix):
    d.eval(prefix + script, unordered=unordered)


def test_lua_to_resp_keys_and_argv(d):
    d.eval("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}",
           ("k1", "k2"), ("a1", "a2"), expect="*6\r\n$2\r\nk1\r\n")
    d.eval("return {type(KEYS), type(ARGV), #KEYS, #ARGV}", expect=":0\r\n:0\r\n")
    d.eval("return ARGV", (), ("a", "", "c"), expect="*3\r\n$1\r\na\r\n$0\r\n\r\n$1\r\nc\r\n")
    d.eval("return KEYS", ("k1", "k2"), ("a1",), expect="*2\r\n$2\r\nk1\r\n$2\r\nk2\r\n")
    d.eval("return {KEYS[1], ARGV[1]}", (b"\x00\xff\r\n",), (b"",), expect=b"\x00\xff\r\n")
    d.eval("ARGV[1] = 'changed' return ARGV", (), ("a",), expect="changed")
    d.eval("KEYS[1] = 'x' return KEYS[1]", ("a",), expect="$1\r\nx\r\n")
    d.eval("return #ARGV", (), tuple(str(i) for i in range(300)), expect=":300\r\n")
    # the tables are fresh at every call
    d.eval("return {#KEYS, #ARGV, KEYS[2] == nil}", ("a",), (), expect="*3\r\n:1\r\n:0\r\n:1\r\n")


def test_script_body_with_raw_bytes(d):
    d.eval(b"return 'a\x00b\xff'", expect=b"$4\r\na\x00b\xff\r\n")
    d.eval(b"return string.len('\xe2\x82\xac')", expect=":3\r\n")
    d.eval("#!lua\r\nreturn 1", expect=":1\r\n")


def test_self_referencing_table(d):
    """A table containing itself nests until the Lua stack runs out: Redis sends the nested
    arrays opened so far with `-ERR reached lua stack limit` as the innermost element. Read raw
    (the reply is too deep for the recursive reader), then the connection must still work."""
    payload = encode_command([b"EVAL", b"local t = {} t[1] = t return t", b"0"])
    end = b"-ERR reached lua stack limit\r\n"
    replies = []
    for conn in (d.ours, d.theirs):
        conn.sock.sendall(payload)
        data = b""
        deadline = time.monotonic() + 10
        while not data.endswith(end) and time.monotonic() < deadline:
            try:
                chunk = conn.stream.read1(65536)
            except OSError as error:  # a timeout included
                data += f"<{type(error).__name__}>".encode()
                break
            if not chunk:
                data += b"<connection closed>"
                break
            data += chunk
        replies.append(data)
    ours, theirs = replies
    assert theirs.endswith(end), theirs[-200:]
    assert ours == theirs, (
        f"EVAL 'local t = {{}} t[1] = t return t' 0\nvalkdb: {len(ours)} bytes, ends "
        f"{ours[-120:]!r}\nredis:  {len(theirs)} bytes, ends {theirs[-120:]!r}")
    d.same("PING", expect="PONG")


# --- RESP -> Lua -----------------------------------------------------------------------------

SEED = (
    ("SET", "s", "hello"), ("SET", "n", "10"), ("SET", "f", "3.25"),
    ("RPUSH", "l", "a", "b", "c"), ("HSET", "h", "f1", "v1"), ("HSET", "h2", "a", "1", "b", "2"),
    ("SADD", "st", "m1"), ("SADD", "st2", "x", "y", "z"), ("SADD", "ints", "3", "1", "2"),
    ("ZADD", "z", "1.5", "a", "2", "b", "-inf", "c", "0.1", "d"),
)

FROM_RESP = [
    ("return D(redis.call('get', 's'))", '"hello"'),
    ("return D(redis.call('get', 'missing'))", "false"),
    ("return D(redis.call('incr', 'n'))", "11"),
    ("return D(redis.call('incrbyfloat', 'f', '1.5'))", '"4.75"'),
    ("return D(redis.call('ping'))", '{["ok"]="PONG"}'),
    ("return D(redis.call('set', 'k', 'v'))", '{["ok"]="OK"}'),
    ("return D(redis.call('type', 's'))", '{["ok"]="string"}'),
    ("return D(redis.call('type', 'l'))", '{["ok"]="list"}'),
    ("return D(redis.call('exists', 's', 'missing'))", "1"),
    ("return D(redis.call('lrange', 'l', 0, -1))", '{[1]="a",[2]="b",[3]="c"}'),
    ("return D(redis.call('lrange', 'missing', 0, -1))", "{}"),
    ("return D(redis.call('lpop', 'missing', 2))", "false"),
    ("return D(redis.call('hgetall', 'h'))", '{[1]="f1",[2]="v1"}'),
    ("local t = redis.call('hgetall', 'h2') table.sort(t) return D(t)", '"1"'),
    ("return D(redis.call('smembers', 'st'))", '{[1]="m1"}'),
    ("local t = redis.call('smembers', 'st2') table.sort(t) return D(t)", '"x"'),
    ("return D(redis.call('smembers', 'ints'))", '{[1]="1",[2]="2",[3]="3"}'),
    ("return D(redis.call('zscore', 'z', 'a'))", '"1.5"'),
    ("return D(redis.call('zscore', 'z', 'd'))", '"0.10000000000000001"'),
    ("return D(redis.call('zscore', 'z', 'c'))", '"-inf"'),
    ("return D(redis.call('zscore', 'z', 'none'))", "false"),
    ("return D(redis.call('zrange', 'z', 0, -1, 'withscores'))", '[2]="-inf"'),
    ("return D(redis.call('zincrby', 'z', 1.25, 'a'))", '"2.75"'),
    ("return D(redis.call('mget', 's', 'missing', 's'))", '{[1]="hello",[2]=false,[3]="hello"}'),
    ("return D(redis.call('zmscore', 'z', 'a', 'none'))", '{[1]="1.5",[2]=false}'),
    ("return D(redis.call('blmpop', 0, 1, 'missing', 'left'))", "false"),
    ("return D(redis.call('echo', ''))", '""'),
    ("return D(redis.call('object', 'help'))", '{[1]={["ok"]="OBJECT <subcommand>'),
    ("return D(redis.call('info', 'keyspace') ~= nil)", "true"),
    ("return D(redis.pcall('incr', 's'))",
     '{["err"]="ERR value is not an integer or out of range",'
     '["ignore_error_stats_update"]=true}'),
    ("return D(redis.pcall('nosuch'))", '["err"]="ERR Unknown Redis command called from script"'),
    ("return D(redis.pcall('lpush', 's', 'x'))", '"WRONGTYPE Operation against a key holding'),
    ("return D({redis.call('rpush', 'l2', 'a', 'b')})", "{[1]=2}"),
    ("return D(redis.call('time')[3])", "nil"),
    ("return D(#redis.call('time'))", "2"),
]

FROM_RESP3 = [
    ("return D(redis.call('get', 's'))", '"hello"'),
    ("return D(redis.call('get', 'missing'))", "nil"),
    ("return D(redis.call('incr', 'n'))", "11"),
    ("return D(redis.call('ping'))", '{["ok"]="PONG"}'),
    ("return D(redis.call('hgetall', 'h2'))", '{["map"]={["a"]="1",["b"]="2"}}'),
    ("return D(redis.call('hgetall', 'missing'))", '{["map"]={}}'),
    ("return D(redis.call('smembers', 'st2'))", '{["set"]={["x"]=true,["y"]=true,["z"]=true}}'),
    ("return D(redis.call('smembers', 'ints'))", '{["set"]={["1"]=true,["2"]=true,["3"]=true}}'),
    ("return D(redis.call('zscore', 'z', 'a'))", '{["double"]=1.5}'),
    ("return D(redis.call('zscore', 'z', 'd'))", '{["double"]=0.10000000000000001}'),
    ("return D(redis.call('zscore', 'z', 'c'))", '{["double"]=-inf}'),
    ("return D(redis.call('zscore', 'z', 'none'))", "nil"),
    ("return D(redis.call('zrange', 'z', 0, -1, 'withscores'))",
     '{[1]={[1]="c",[2]={["double"]=-inf}}'),
    ("return D(redis.call('zincrby', 'z', 1.25, 'a'))", '{["double"]=2.75}'),
    ("return D(redis.call('zadd', 'z', 'incr', 1, 'b'))", '{["double"]=3}'),
    ("return D(redis.call('zpopmin', 'z'))", '{[1]="c",[2]={["double"]=-inf}}'),
    ("return D(redis.call('mget', 's', 'missing', 's'))", '{[1]="hello",[3]="hello"}'),
    ("return D(redis.call('zmscore', 'z', 'a', 'none'))", '{[1]={["double"]=1.5}}'),
    ("return D(redis.call('lpop', 'missing', 2))", "nil"),
    ("return D(redis.call('lpop', 'missing'))", "nil"),
    ("return D(redis.call('blmpop', 0, 1, 'missing', 'left'))", "nil"),
    ("return D(redis.call('lrange', 'l', 0, -1))", '{[1]="a",[2]="b",[3]="c"}'),
    ("return D(redis.call('type', 's'))", '{["ok"]="string"}'),
    ("return D(redis.call('exists', 's'))", "1"),
    ("return D(redis.call('set', 'k', 'v', 'get'))", "nil"),
    ("return D(redis.call('object', 'encoding', 'missing'))", "nil"),
    ("local r = redis.call('info', 'keyspace') "
     "return D({r.verbatim_string.format, type(r.verbatim_string.string)})",
     '{[1]="txt",[2]="string"}'),
    ("return D(redis.pcall('incr', 's'))", '["err"]="ERR value is not an integer'),
    ("redis.setresp(2) return D(redis.call('zscore', 'z', 'a'))", '"1.5"'),
    ("redis.setresp(2) return D(redis.call('get', 'missing'))", "false"),
]


@pytest.mark.parametrize(("script", "expect"),
                         [pytest.param(s, e, id=s[9:60]) for s, e in FROM_RESP])
def test_resp2_to_lua(d, script, expect):
    d.setup(*SEED)
    d.eval(D + script, expect=expect)


@pytest.mark.parametrize(("script", "expect"),
                         [pytest.param(s, e, id=s[9:60]) for s, e in FROM_RESP3])
def test_resp3_to_lua(d, script, expect):
    d.setup(*SEED)
    d.eval(D + "redis.setresp(3) " + script, expect=expect)


@pytest.mark.parametrize("prefix", ["", "redis.setresp(3) "], ids=["resp2lua", "resp3lua"])
@pytest.mark.parametrize("command", [
    "return redis.call('get', 's')", "return redis.call('get', 'missing')",
    "return redis.call('hgetall', 'h')", "return redis.call('smembers', 'st')",
    "return redis.call('zscore', 'z', 'a')", "return redis.call('zscore', 'z', 'c')",
    "return redis.call('zrange', 'z', 0, -1, 'withscores')",
    "return redis.call('mget', 's', 'missing')", "return redis.call('ping')",
    "return redis.call('lpop', 'missing', 3)", "return redis.call('incrbyfloat', 'f', 1)",
    "return redis.call('info', 'keyspace')", "return redis.pcall('incr', 's')",
])
def test_reply_passed_through(d, prefix, command):
    """A command's reply returned as it is: RESP -> Lua -> RESP, in every combination of the
    script's protocol and the caller's."""
    d.setup(*SEED)
    d.eval(prefix + command)


def test_resp3_ints_of_arrays_in_lua(d):
    d.setup(*SEED)
    d.eval("redis.setresp(3) local t = redis.call('hgetall', 'h2') "
           "return {t.map.a, t.map.b, type(t.map)}", expect="$5\r\ntable\r\n")
    d.eval("redis.setresp(3) local t = redis.call('smembers', 'st2') "
           "return {tostring(t.set.x), tostring(t.set.nope)}", expect="true")
    d.eval("redis.setresp(3) return redis.call('zscore', 'z', 'a').double * 2", expect=":3\r\n")


# --- errors ----------------------------------------------------------------------------------

ERRORS = [
    # redis.call raises, with the position of the call
    ("return redis.call('nosuch')", "-ERR Unknown Redis command called from script script: "),
    ("redis.call('nosuch')", "Unknown Redis command called from script"),
    ("return redis.call('get')", "-ERR Wrong number of args calling Redis command from script"),
    ("return redis.call('get', 'a', 'b')", "Wrong number of args calling Redis command"),
    ("return redis.call()", "-ERR Please specify at least one argument for this redis lib call"),
    ("return redis.call({})", "-ERR Lua redis lib command arguments must be strings or integers"),
    ("return redis.call('get', {})", "must be strings or integers"),
    ("return redis.call('get', nil)", "must be strings or integers"),
    ("return redis.call('get', true)", "must be strings or integers"),
    ("return redis.call('get', function() end)", "must be strings or integers"),
    ("return redis.call('blpop', 'x', 0)", "-ERR This Redis command is not allowed from script"),
    ("return redis.call('brpop', 'x', 0)", "not allowed from script"),
    ("return redis.call('blmove', 'a', 'b', 'left', 'right', 0)", "not allowed from script"),
    ("return redis.call('brpoplpush', 'a', 'b', 0)", "not allowed from script"),
    ("return redis.call('bzpopmin', 'z', 0)", "not allowed from script"),
    ("return redis.call('bzpopmax', 'z', 0)", "not allowed from script"),
    ("return redis.call('subscribe', 'x')", "not allowed from script"),
    ("return redis.call('psubscribe', 'x')", "not allowed from script"),
    ("return redis.call('unsubscribe')", "not allowed from script"),
    ("return redis.call('multi')", "not allowed from script"),
    ("return redis.call('exec')", "not allowed from script"),
    ("return redis.call('discard')", "not allowed from script"),
    ("return redis.call('watch', 'x')", "not allowed from script"),
    ("return redis.call('unwatch')", "not allowed from script"),
    ("return redis.call('eval', 'return 1', '0')", "not allowed from script"),
    ("return redis.call('evalsha', 'abc', '0')", "not allowed from script"),
    ("return redis.call('script', 'load', 'return 1')", "not allowed from script"),
    ("return redis.call('script', 'exists', 'abc')", "not allowed from script"),
    ("return redis.call('hello')", "not allowed from script"),
    ("return redis.call('auth', 'x')", "not allowed from script"),
    ("return redis.call('quit')", "not allowed from script"),
    ("return redis.call('reset')", "not allowed from script"),
    ("return redis.call('shutdown')", "not allowed from script"),
    ("return redis.call('save')", "not allowed from script"),
    ("return redis.call('bgsave')", "not allowed from script"),
    ("return redis.call('bgrewriteaof')", "not allowed from script"),
    ("return redis.call('client', 'id')", "not allowed from script"),
    ("return redis.call('client', 'list')", "not allowed from script"),
    ("return redis.call('config', 'get', 'maxmemory')", "not allowed from script"),
    ("return redis.call('wait', 0, 0)", "not allowed from script"),
    ("return redis.call('monitor')", "not allowed from script"),
    ("return redis.call('sync')", "not allowed from script"),
    ("return redis.call('incr', 's')",
     "-ERR value is not an integer or out of range script: "),
    ("local x = redis.call('incr', 's') return x", "value is not an integer"),
    ("redis.call('incr', 's') return 1", "value is not an integer"),
    ("return redis.call('lpush', 's', 'a')",
     "-WRONGTYPE Operation against a key holding the wrong kind of value script: "),
    ("return redis.call('select', 99)", "-ERR DB index is out of range script: "),
    ("return redis.call('set', 'k', 'v', 'px', 0)", "invalid expire time in 'set' command"),
    # an unknown subcommand is an unknown command to a script
    ("return redis.call('object', 'nosuch', 'k')", "Unknown Redis command called from script"),
    # redis.pcall returns the error as a table: the script returns it, no position added
    ("return redis.pcall('nosuch')", "-ERR Unknown Redis command called from script\r\n"),
    ("return redis.pcall('get')",
     "-ERR Wrong number of args calling Redis command from script\r\n"),
    ("return redis.pcall()",
     "-ERR Please specify at least one argument for this redis lib call\r\n"),
    ("return redis.pcall({})", "must be strings or integers\r\n"),
    ("return redis.pcall('blpop', 'x', 0)",
     "-ERR This Redis command is not allowed from script\r\n"),
    ("return redis.pcall('lpush', 's', 'a')", "-WRONGTYPE Operation against a key holding"),
    ("return redis.pcall('select', 'x')", "-ERR value is not an integer or out of range\r\n"),
    ("local e = redis.pcall('incr', 's') return e", "-ERR value is not an integer"),
    ("local e = redis.pcall('incr', 's') return e.err", "$43\r\nERR value is not an integer"),
    ("return {err = redis.pcall('incr', 's').err}", "-ERR value is not an integer"),
    # error() and Lua runtime errors
    ("error('boom')", "-ERR user_script:1: boom script: "),
    ("error('boom', 0)", "-ERR boom script: "),
    ("error('boom', 2)", "-ERR boom script: "),
    ("error({err = 'tbl'})", "-tbl script: "),
    ("error({err = 'ERR tbl'})", "-ERR tbl script: "),
    ("error({err = 'MY tbl'})", "-MY tbl script: "),
    ("error({err = 1})", "-1 script: "),
    ("error(nil)", "-ERR nil script: "),
    ("error()", "-ERR nil script: "),
    ("error(42)", "-ERR user_script:1: 42 script: "),
    ("error(true)", "-ERR true script: "),
    ("error(redis.error_reply('MY reply'))", "-MY reply script: "),
    ("local function f() error('inner') end f()", "-ERR user_script:1: inner script: "),
    ("local function f() redis.call('nosuch') end f()", "Unknown Redis command"),
    ("local function f() return redis.call('nosuch') end return f()", "Unknown Redis command"),
    ("local t = nil t.x = 1", "attempt to index local 't' (a nil value)"),
    ("nosuchfn()", "Script attempted to access nonexistent global variable 'nosuchfn'"),
    ("local x = nil x()", "attempt to call local 'x' (a nil value)"),
    ("return 1 + {}", "attempt to perform arithmetic on a table value"),
    ("return 1 + nil", "attempt to perform arithmetic on a nil value"),
    ("return 'a' .. {}", "attempt to concatenate a table value"),
    ("return #nil", "attempt to get length of a nil value"),
    ("return ('a'):bad()", "attempt to call method 'bad' (a nil value)"),
    ("return {} < {}", "attempt to compare two table values"),
    ("return string.rep()", "bad argument #1 to 'rep' (string expected, got no value)"),
    ("return math.random(0)", "bad argument #1 to 'random' (interval is empty)"),
    ("return math.random(1, 2, 3)", "-ERR user_script:1: wrong number of arguments"),
    ("return math.random(5, 1)", "bad argument #2 to 'random' (interval is empty)"),
    ("return tostring()", "bad argument #1 to 'tostring' (value expected)"),
    ("return setmetatable(1, {})", "bad argument #1 to 'setmetatable'"),
    ("local function f(n) return f(n + 1) + 1 end return f(1)", "stack overflow"),
    ("return loadstring('x=1')()", "-ERR [string \"x=1\"]:1: Attempt to modify a readonly table"),
    # pcall / xpcall catching errors
    ("local ok, e = pcall(redis.call, 'nosuch') return {tostring(ok), type(e), e}",
     "*3\r\n$5\r\nfalse\r\n$6\r\nstring\r\n$44\r\nERR Unknown Redis command called"),
    ("local ok, e = pcall(redis.call, 'incr', 's') return e", "$43\r\nERR value is not an integ"),
    ("local ok, e = pcall(function() redis.call('incr', 's') end) return e", "ERR value is not"),
    ("local ok, e = pcall(redis.call) return e", "ERR Please specify at least one argument"),
    ("local ok, e = pcall(redis.call, 'get', {}) return e", "must be strings or integers"),
    ("local ok, e = pcall(redis.call, 'blpop', 'x', 0) return e", "not allowed from script"),
    ("local ok, e = pcall(error, 'x') return e", "$1\r\nx\r\n"),
    ("local ok, e = pcall(error, {err = 'y'}) return e", "$1\r\ny\r\n"),
    ("local ok, e = pcall(error, {err = 'T', x = 1}) return {ok, e}", "$1\r\nT\r\n"),
    ("local ok, e = pcall(error, {x = 1}) return {tostring(ok), type(e), e.x}", "$5\r\ntable"),
    ("local ok, e = pcall(error) return {tostring(ok), tostring(e)}", "$3\r\nnil\r\n"),
    ("local ok, e = pcall(function() error('z') end) return e", "$16\r\nuser_script:1: z\r\n"),
    ("local ok, e = pcall(function() local t = nil; t.x = 1 end) return e", "attempt to index"),
    ("local ok, e = pcall(function() error({err = 'X'}) end) return type(e)", "string"),
    ("return pcall(redis.call, 'nosuch')", None),
    ("return {pcall(redis.call, 'get', 's')}", "*2\r\n:1\r\n$3\r\nstr\r\n"),
    ("return {pcall(function() return 1, 2 end)}", "*3\r\n:1\r\n:1\r\n:2\r\n"),
    ("local r local ok = xpcall(function() redis.call('nosuch') end, "
     "function(e) r = e return e end) return D(r)",
     '{["err"]="ERR Unknown Redis command called from script",'
     '["ignore_error_stats_update"]=true}'),
    ("local r local ok = xpcall(function() redis.call('incr', 's') end, "
     "function(e) r = e return e end) return D(r)", '["ignore_error_stats_update"]=true'),
    ("local r local ok = xpcall(function() error('plain') end, "
     "function(e) r = e return e end) return D(r)", '"user_script:1: plain"'),
    ("local r local ok = xpcall(function() error({err = 'T'}) end, "
     "function(e) r = e return e end) return D(r)", '{["err"]="T"}'),
    ("local ok, v = xpcall(function() redis.call('nosuch') end, "
     "function(e) return type(e) .. ':' .. e.err end) return {tostring(ok), v}",
     "table:ERR Unknown Redis command"),
    ("local ok, v = xpcall(function() return 'fine' end, function(e) return e end) "
     "return {tostring(ok), v}", "fine"),
    ("return D({pcall(redis.pcall, 'nosuch')})", '{[1]=true,[2]={["err"]="ERR Unknown'),
    ("return D(redis.error_reply('x'))", '{["err"]="ERR x"}'),
    ("return D(redis.error_reply('MY x'))", '{["err"]="MY x"}'),
    ("return D(redis.status_reply('x'))", '{["ok"]="x"}'),
    # compile errors
    ("return redis.call('incr',",
     "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'"),
    ("return 1 end", "Error compiling script (new function): user_script:1: '<eof>' expected"),
    ("end return 1", "'<eof>' expected near 'end'"),
    ("local", "Error compiling script (new function): user_script:1: '<name>' expected near"),
    ("x = = 1", "unexpected symbol near '='"),
    ("return 'unfinished", "unfinished string near"),
    ("return [[unfinished", "unfinished long string near"),
    ("#comment\nreturn 1", "unexpected symbol near '#'"),
    (" #!lua\nreturn 1", "unexpected symbol near '#'"),
    ("return 1 +", "unexpected symbol near '<eof>'"),
    ("\n\nfunction (", "user_script:3:"),
    ("for i = 1 do end", "',' expected near 'do'"),
    ("goto x", "'=' expected near 'x'"),
]


# Known divergences, each with why (strict: the day one is fixed, its xfail fails).
KNOWN = {
    "return setmetatable(1, {})": (
        "valkdb's setmetatable is a Lua wrapper (it refuses read-only tables); tail-called, Lua "
        "5.1 drops the script's frame, so the error has no position: Redis's is a C function"),
}


@pytest.mark.parametrize(("script", "expect"), [
    pytest.param(s, e, id=s[:60], marks=[pytest.mark.xfail(reason=KNOWN[s], strict=True)]
                 if s in KNOWN else []) for s, e in ERRORS])
def test_errors(d, script, expect):
    d.setup(("SET", "s", "str"))
    d.eval(D + script if "D(" in script else script, expect=expect)


MULTILINE_ERRORS = [
    ("\n\nreturn redis.call('nosuch')", "on @user_script:3."),
    ("\n\nredis.call('nosuch')", "on @user_script:3."),
    ("\nlocal x = 1\nlocal y = redis.call('nosuch')\nreturn y", "on @user_script:3."),
    ("local function f()\n  return redis.call('nosuch')\nend\nreturn f()", "on @user_script:2."),
    ("local function f()\n  redis.call('nosuch')\nend\n\nf()", "on @user_script:2."),
    ("local function f()\n  error('x')\nend\n\nf()", "user_script:2: x script: "),
    ("local function f()\n  error({err='MY x'})\nend\n\nf()", "-MY x script: "),
    ("local function f()\n  error('x', 2)\nend\n\nf()", "user_script:5: x script: "),
    ("\n\nerror('top')", "-ERR user_script:3: top script: "),
    ("\n\n\nreturn 1 + nil", "user_script:4: attempt to perform arithmetic on a nil value"),
    ("\n\nerror('top', 0)", "-ERR top script: "),
    ("\n\nerror({err='X y'})", "-X y script: "),
    ("local t = {}\nlocal f = function() return redis.call('get') end\nreturn f()",
     "on @user_script:2."),
    ("\nreturn redis.call('get', {})", "on @user_script:2."),
    ("\nreturn redis.call()", "on @user_script:2."),
    ("\nreturn redis.setresp(4)", "RESP version must be 2 or 3. script: "),
    ("\nredis.call('set','a','b')\nreturn redis.call('incr','a')", "on @user_script:3."),
    ("local ok, e = pcall(redis.call, 'nosuch')\nreturn type(e)", "string"),
    ("local t = {\n  1,\n  2,\n}\nreturn t[1] .. nil", "user_script:5:"),
    ("local function a() error('deep') end\nlocal function b() a() end\n"
     "local function c() b() end\nc()", "user_script:1: deep script: "),
    ("local function a()\n return redis.call('nosuch')\nend\nlocal function b()\n return a()\n"
     "end\nreturn b()", "on @user_script:2."),
    ("local s = 'x'\n\nreturn s:nosuch()", "user_script:3: attempt to call method 'nosuch'"),
    ("#!lua\nreturn redis.call('nosuch')", "on @user_script:2."),
    ("#!lua\n\nreturn x", "user_script:3: Script attempted to access nonexistent global"),
    ("#!lua\nerror('x')", "-ERR user_script:2: x script: "),
    ("return loadstring('\\nlocal a = 1\\nerror(\"in chunk\")')()", ":3: in chunk script: "),
]


@pytest.mark.parametrize(("script", "expect"),
                         [pytest.param(s, e, id=s.replace("\n", "|")[:60])
                          for s, e in MULTILINE_ERRORS])
def test_error_positions(d, script, expect):
    d.eval(script, expect=expect)


def test_errors_by_evalsha_and_eval_ro(d):
    for body in ("return redis.call('nosuch')", "error('x')", "error({err='MY e'})",
                 "\n\nreturn x", "return redis.pcall('nosuch')"):
        sha = sha1(body)
        d.same("SCRIPT", "LOAD", body, expect=sha)
        d.same("EVALSHA", sha, "0", expect="-")
        d.same("EVALSHA_RO", sha, "0", expect="-")
        d.same("EVAL_RO", body, "0", expect="-")


# --- the sandbox, globals, the redis.* API ---------------------------------------------------

SANDBOX = [
    ("x = 1", "-ERR user_script:1: Attempt to modify a readonly table script: "),
    ("return x", "Script attempted to access nonexistent global variable 'x'"),
    ("_G.x = 1", "Attempt to modify a readonly table"),
    ("_G['KEYS'] = 1", "Attempt to modify a readonly table"),
    ("rawset(_G, 'x', 1)", "-ERR Attempt to modify a readonly table script: "),
    ("return rawget(_G, 'x')", None),
    ("local t = _G return type(t)", "table"),
    ("return _G._G == _G", ":1\r\n"),
    ("return type(getmetatable(_G))", "table"),
    ("return type(getmetatable(_G).__index)", "function"),
    ("return type(getmetatable(_G).__newindex)", "nil"),
    ("local keys = {} for k in pairs(getmetatable(_G)) do keys[#keys+1] = k end "
     "table.sort(keys) return keys", "__index"),
    ("setmetatable(_G, nil)", "Attempt to modify a readonly table"),
    ("getmetatable(_G).__index = nil", "Attempt to modify a readonly table"),
    ("string.foo = 1", "Attempt to modify a readonly table"),
    ("string.len = nil", "Attempt to modify a readonly table"),
    ("math.pi = 3", "Attempt to modify a readonly table"),
    ("table.insert = nil", "Attempt to modify a readonly table"),
    ("redis.call = nil", "Attempt to modify a readonly table"),
    ("redis.x = 1", "Attempt to modify a readonly table"),
    ("cjson.encode = nil", "Attempt to modify a readonly table"),
    ("bit.band = nil", "Attempt to modify a readonly table"),
    ("coroutine.wrap = nil", "Attempt to modify a readonly table"),
    ("KEYS = {}", "Attempt to modify a readonly table"),
    ("ARGV = {}", "Attempt to modify a readonly table"),
    ("getmetatable('').__index = nil", "Attempt to modify a readonly table"),
    ("getmetatable('').x = 1", "Attempt to modify a readonly table"),
    ("local mt = getmetatable('') rawset(mt, 'x', 1)", "-ERR Attempt to modify a readonly"),
    ("return getmetatable('').__index == string", ":1\r\n"),
    ("local t = setmetatable({}, {__index = function(t, k) return k .. '!' end}) return t.abc",
     "abc!"),
    ("local t = {} t.x = 1 return t.x", ":1\r\n"),
    ("local function f() return 1 end return f()", ":1\r\n"),
    ("function f() return 1 end", "Attempt to modify a readonly table"),
    ("return loadstring('return 1')()", ":1\r\n"),
    ("return type(loadstring)", "function"),
    ("return type(load)", "function"),
    ("return {loadstring('x=')}", "*0\r\n"),
    ("local f, e = loadstring('x=') return e", "[string \"x=\"]:1: unexpected symbol"),
    ("return loadstring('return ...')(7)", ":7\r\n"),
    ("return type(dofile)", "nonexistent global variable 'dofile'"),
    ("return type(loadfile)", "nonexistent global variable 'loadfile'"),
    ("return type(print)", "nonexistent global variable 'print'"),
    ("return type(os)", "nonexistent global variable 'os'"),
    ("return os.clock()", "nonexistent global variable 'os'"),
    ("return type(io)", "nonexistent global variable 'io'"),
    ("return type(require)", "nonexistent global variable 'require'"),
    ("return type(module)", "nonexistent global variable 'module'"),
    ("return type(package)", "nonexistent global variable 'package'"),
    ("return type(debug)", "nonexistent global variable 'debug'"),
    ("return type(newproxy)", "nonexistent global variable 'newproxy'"),
    ("return type(setfenv)", "nonexistent global variable 'setfenv'"),
    ("return type(getfenv)", "nonexistent global variable 'getfenv'"),
    ("return type(collectgarbage)", "function"),
    ("return type(gcinfo)", "function"),
    ("return collectgarbage('count') > 0", ":1\r\n"),
    ("return type(coroutine)", "table"),
    ("return coroutine.wrap(function() coroutine.yield(5) end)()", ":5\r\n"),
    ("return type(coroutine.running())", "nil"),
    ("return type(string.dump)", "function"),
    ("return type(unpack)", "function"),
    ("return {type(bit), type(cjson), type(cmsgpack), type(struct)}", "$5\r\ntable\r\n"),
    ("return _VERSION", "Lua 5.1"),
    ("local keys = {} for k in pairs(_G) do keys[#keys+1] = k end table.sort(keys) "
     "return table.concat(keys, ' ')", "ARGV KEYS _G _VERSION __redis__err__handler assert"),
    ("local keys = {} for k in pairs(redis) do keys[#keys+1] = k end table.sort(keys) "
     "return table.concat(keys, ' ')", "LOG_DEBUG LOG_NOTICE LOG_VERBOSE LOG_WARNING"),
    ("local keys = {} for k in pairs(string) do keys[#keys+1] = k end table.sort(keys) "
     "return table.concat(keys, ' ')", "byte char dump find format gfind"),
    ("local keys = {} for k in pairs(math) do keys[#keys+1] = k end table.sort(keys) "
     "return table.concat(keys, ' ')", "abs acos asin atan atan2 ceil"),
    ("local keys = {} for k in pairs(table) do keys[#keys+1] = k end table.sort(keys) "
     "return table.concat(keys, ' ')", "concat foreach foreachi getn insert maxn"),
    ("local keys = {} for k in pairs(coroutine) do keys[#keys+1] = k end table.sort(keys) "
     "return table.concat(keys, ' ')", "create resume running status wrap yield"),
    # Lua's own number and string behaviour, as scripts see it
    ("return {tostring(nil), tostring(12), tostring(1e15), tostring(1e16), tostring(0.1)}",
     "1e+15"),
    ("return {tostring(-0.0), tostring(1/0), tostring(-1/0), tostring(0/0)}", "-nan"),
    ("return {string.format('%d', 3.9), string.format('%5.2f', 3.14159)}", " 3.14"),
    ("return string.format('%q', 'a\\nb\\0c')", '"a\\\nb\\000c"'),
    ("return {math.floor(-3.5), 7 % 3, -7 % 3, math.max(1, 5, 3)}", ":-4\r\n:1\r\n:2\r\n:5"),
    ("return {tonumber('0x10'), tonumber('  12  '), tonumber('1e2'), tonumber('abc') == nil, "
     "tonumber('10', 2)}", ":16\r\n:12\r\n:100\r\n:1\r\n:2\r\n"),
    ("return select('#', 1, 2, 3)", ":3\r\n"),
    ("return string.rep('ab', 3)", "ababab"),
    ("return cjson.encode({a = 1})", '{"a":1}'),
    ("return type(cjson.null)", "userdata"),
    ("return bit.tohex(255)", "000000ff"),
    ("return struct.pack('>I2', 258)", "\x01\x02"),
    ("return cmsgpack.pack({1, 2})", b"\x92\x01\x02"),
]


@pytest.mark.parametrize(("script", "expect"),
                         [pytest.param(s, e, id=s[:60]) for s, e in SANDBOX])
def test_sandbox(d, script, expect):
    d.eval(script, expect=expect)


def test_globals_do_not_leak_between_scripts(d):
    d.eval("local ok = pcall(function() leak = 1 end) return tostring(ok)", expect="false")
    d.eval("return rawget(_G, 'leak') == nil", expect=":1\r\n")
    d.eval("KEYS[5] = 'x' ARGV[5] = 'y' return 1", expect=":1\r\n")
    d.eval("return {#KEYS, #ARGV, tostring(KEYS[5]), tostring(ARGV[5])}",
           expect="*4\r\n:0\r\n:0\r\n$3\r\nnil\r\n$3\r\nnil\r\n")


REDIS_API = [
    ("return redis.sha1hex('')", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("return redis.sha1hex('abc')", "a9993e364706816aba3e25717850c26c9cd0d89d"),
    ("return redis.sha1hex(123)", sha1("123")),
    ("return redis.sha1hex('a\\0b')", sha1(b"a\x00b")),
    ("return redis.sha1hex({})", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("return redis.sha1hex()", "-ERR wrong number of arguments script: "),
    ("return redis.sha1hex('a', 'b')", "-ERR wrong number of arguments script: "),
    ("return redis.log(redis.LOG_WARNING, 'hello from a test')", None),
    ("return redis.log(redis.LOG_DEBUG, 'a', 'b', 3)", None),
    ("return redis.log(redis.LOG_NOTICE, {})", None),
    ("return redis.log(redis.LOG_VERBOSE, 1.5)", None),
    ("return redis.log(redis.LOG_WARNING)", "-ERR redis.log() requires two arguments or more."),
    ("return redis.log()", "-ERR redis.log() requires two arguments or more."),
    ("return redis.log(99, 'x')", "-ERR Invalid debug level. script: "),
    ("return redis.log(-1, 'x')", "Invalid debug level."),
    ("return redis.log('x', 'y')", "-ERR First argument must be a number (log level)."),
    ("return redis.log({}, 'y')", "First argument must be a number (log level)."),
    ("return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
     "*4\r\n:0\r\n:1\r\n:2\r\n:3\r\n"),
    ("return redis.setresp()", "-ERR redis.setresp() requires one argument. script: "),
    ("return redis.setresp(3, 2)", "redis.setresp() requires one argument."),
    ("return redis.setresp(1)", "-ERR RESP version must be 2 or 3. script: "),
    ("return redis.setresp(4)", "RESP version must be 2 or 3."),
    ("return redis.setresp('x')", "RESP version must be 2 or 3."),
    ("return redis.setresp({})", "RESP version must be 2 or 3."),
    ("return redis.setresp('3')", None),
    ("return redis.setresp(2)", None),
    ("return D({redis.setresp(3)})", "{}"),
    ("return redis.set_repl()", "-ERR redis.set_repl() requires two arguments. script: "),
    ("return redis.set_repl(1, 2)", "redis.set_repl() requires two arguments."),
    ("return redis.set_repl(99)",
     "-ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."),
    ("return redis.set_repl(-1)", "Invalid replication flags."),
    ("return redis.set_repl(redis.REPL_ALL)", None),
    ("return redis.set_repl(redis.REPL_NONE)", None),
    ("return redis.set_repl('x')", None),
    ("return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, "
     "redis.REPL_ALL}", "*5\r\n:0\r\n:1\r\n:2\r\n:2\r\n:3\r\n"),
    ("return redis.REDIS_VERSION", "$6\r\n7.0.15\r\n"),
    ("return redis.REDIS_VERSION_NUM", ":458767\r\n"),
    ("return type(redis.REDIS_VERSION_NUM)", "number"),
    ("return redis.replicate_commands()", ":1\r\n"),
    ("return D({redis.replicate_commands()})", "{[1]=true}"),
    ("return redis.breakpoint()", None),
    ("return D({redis.breakpoint()})", "{[1]=false}"),
    ("return redis.debug('x')", None),
    ("return redis.debug()", None),
    ("return D({redis.debug('x', 1, {})})", "{}"),
    ("return redis.acl_check_cmd('get', 'x')", ":1\r\n"),
    ("return redis.acl_check_cmd('set', 'x', 'y')", ":1\r\n"),
    ("return redis.acl_check_cmd('nosuch')",
     "-ERR Invalid command passed to redis.acl_check_cmd()"),
    ("return redis.acl_check_cmd()", "Please specify at least one argument for this redis lib"),
    ("return redis.acl_check_cmd({})", "must be strings or integers"),
    ("return D({redis.log(redis.LOG_NOTICE, 'x')})", "{}"),
    ("return D({redis.set_repl(redis.REPL_ALL)})", "{}"),
]


@pytest.mark.parametrize(("script", "expect"),
                         [pytest.param(s, e, id=s[:60]) for s, e in REDIS_API])
def test_redis_api(d, script, expect):
    d.eval(D + script if "D(" in script else script, expect=expect)


def test_math_random_is_seeded_by_randomseed(d):
    d.eval("math.randomseed(7) return {math.random(10), math.random(3, 9), "
           "tostring(math.random())}", expect="*3\r\n:3\r\n:7\r\n$16\r\n0.26549059351231\r\n")
    d.eval("math.randomseed(42) local t = {} for i = 1, 20 do t[i] = math.random(1000000) end "
           "return t", expect="*20\r\n")
    d.eval("math.randomseed(1) local t = {} for i = 1, 10 do "
           "t[i] = string.format('%.17g', math.random()) end return t", expect="*10\r\n")
    d.eval("math.randomseed(-3.5) return {math.random(100), math.random(100)}", expect="*2\r\n")
    d.eval("return math.random(1)", expect=":1\r\n")


def test_math_random_runs_on_between_scripts(d):
    """Redis 7.0 seeds its generator once: a script does not restart the sequence, so after
    a seed in one EVAL the next EVAL continues it (and two EVALs differ)."""
    d.eval("math.randomseed(99) return math.random(1000000)", expect=":")
    d.eval("return math.random(1000000)", expect=":")
    d.eval("return math.random(1000000)", expect=":")
    d.same("SCRIPT", "FLUSH", expect="+OK")
    d.eval("return math.random(1000000)", expect=":")
    first = d.eval("math.randomseed(5) return math.random(1000000)")
    second = d.eval("return math.random(1000000)")
    assert first != second, "the reference reseeded between scripts"


# --- shebang flags, EVAL_RO ------------------------------------------------------------------

SHEBANGS = [
    ("EVAL", "#!lua\nreturn 1", ":1\r\n"),
    ("EVAL", "#!lua\r\nreturn 1", ":1\r\n"),
    ("EVAL", "#!lua\nreturn redis.call('set', 'a', 'b')", "+OK"),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')",
     "-ERR Write commands are not allowed from read-only scripts. script: "),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.pcall('set', 'a', 'b')",
     "-ERR Write commands are not allowed from read-only scripts.\r\n"),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', 'a')", None),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('del', 'nosuchkey')",
     "Write commands are not allowed from read-only scripts."),
    ("EVAL", "#!lua flags=no-writes\nreturn redis.call('eval', 'return 1', 0)",
     "This Redis command is not allowed from script"),
    ("EVAL", "#!lua flags=no-writes,allow-oom\nreturn 1", ":1\r\n"),
    ("EVAL", "#!lua flags=allow-oom\nreturn 1", ":1\r\n"),
    ("EVAL", "#!lua flags=allow-stale\nreturn 1", ":1\r\n"),
    ("EVAL", "#!lua flags=no-cluster\nreturn 1", ":1\r\n"),
    ("EVAL", "#!lua flags=allow-cross-slot-keys\nreturn 1", ":1\r\n"),
    ("EVAL", "#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\n"
     "return redis.call('get', 'a')", None),
    ("EVAL", "#!lua flags=\nreturn 1", ":1\r\n"),
    ("EVAL", "#!lua flags=no-writes,no-writes\nreturn 1", ":1\r\n"),
    ("EVAL", "#!lua flags=no-writes flags=allow-oom\nreturn 1", ":1\r\n"),
    ("EVAL", "#!lua  flags=no-writes\nreturn redis.call('set', 'a', 'b')", "read-only scripts"),
    ("EVAL", "#!lua flags=bogus\nreturn 1", "-ERR Unexpected flag in script shebang: bogus\r\n"),
    ("EVAL", "#!lua flags=no-writes,bogus\nreturn 1", "Unexpected flag in script shebang: bogus"),
    ("EVAL", "#!lua flags=NO-WRITES\nreturn 1", "Unexpected flag in script shebang: NO-WRITES"),
    ("EVAL", "#!lua flags=no-writes,\nreturn 1", "-ERR Unexpected flag in script shebang: \r\n"),
    ("EVAL", "#!lua flags=,no-writes\nreturn 1", "-ERR Unexpected flag in script shebang: \r\n"),
    ("EVAL", "#!lua name=x\nreturn 1", "-ERR Unknown lua shebang option: name=x\r\n"),
    ("EVAL", "#!lua foo=bar\nreturn 1", "Unknown lua shebang option: foo=bar"),
    ("EVAL", "#!lua x\nreturn 1", "Unknown lua shebang option: x"),
    ("EVAL", "#!luax\nreturn 1", "-ERR Unexpected engine in script shebang: #!luax\r\n"),
    ("EVAL", "#!python\nreturn 1", "Unexpected engine in script shebang: #!python"),
    ("EVAL", "#!\nreturn 1", "Unexpected engine in script shebang: #!\r\n"),
    ("EVAL", "#! lua\nreturn 1", "Unexpected engine in script shebang: #!\r\n"),
    ("EVAL", "#!LUA\nreturn 1", "Unexpected engine in script shebang: #!LUA"),
    ("EVAL", "#!lua", "-ERR Invalid script shebang\r\n"),
    ("EVAL", "#!lua flags=no-writes", "-ERR Invalid script shebang\r\n"),
    ("EVAL_RO", "return redis.call('set', 'a', 'b')",
     "-ERR Write commands are not allowed from read-only scripts. script: "),
    ("EVAL_RO", "return redis.pcall('set', 'a', 'b')",
     "-ERR Write commands are not allowed from read-only scripts.\r\n"),
    ("EVAL_RO", "return redis.call('del', 'nosuchkey')", "read-only scripts"),
    ("EVAL_RO", "return redis.call('get', 'a')", None),
    ("EVAL_RO", "#!lua\nreturn redis.call('set', 'a', 'b')",
     "-ERR Can not execute a script with write flag using *_ro command.\r\n"),
    ("EVAL_RO", "#!lua\nreturn 1", "Can not execute a script with write flag using *_ro"),
    ("EVAL_RO", "#!lua flags=no-writes\nreturn 1", ":1\r\n"),
    ("EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('set', 'a', 'b')", "read-only"),
    ("EVAL_RO", "#!lua flags=bogus\nreturn 1", "Unexpected flag in script shebang: bogus"),
    ("EVAL_RO", "local ok, e = pcall(redis.call, 'set', 'a', 'b') return e",
     "\r\nERR Write commands are not allowed from read-only scripts.\r\n"),
]


@pytest.mark.parametrize(("command", "script", "expect"),
                         [pytest.param(c, s, e, id=f"{c}-{s.replace(chr(10), '|')[:50]}")
                          for c, s, e in SHEBANGS])
def test_shebang_flags_and_read_only(d, command, script, expect):
    d.eval(script, command=command, expect=expect)
    if command == "EVAL":
        # the same body again by SHA (EVAL cached it when it compiled)
        sha = sha1(script)
        d.same("SCRIPT", "EXISTS", sha)
        d.same("EVALSHA", sha, "0")
        d.same("EVALSHA_RO", sha, "0")
    d.same("GET", "a")


def test_read_only_script_leaves_no_trace(d):
    d.setup(("SET", "a", "1"))
    d.eval("redis.pcall('set', 'a', 'changed') return redis.call('get', 'a')",
           command="EVAL_RO", expect="$1\r\n1\r\n")
    d.eval("#!lua flags=no-writes\nredis.pcall('incr', 'a') return redis.call('get', 'a')",
           expect="$1\r\n1\r\n")
    d.same("GET", "a", expect="1")


# --- databases, transactions, WATCH ----------------------------------------------------------

def test_select_inside_a_script(d):
    d.eval("redis.call('select', 5) redis.call('set', 'k', 'db5') return redis.call('get', 'k')",
           expect="db5")
    d.same("GET", "k", expect="$-1" if d.protocol == 2 else "_")
    d.same("SELECT", "5", expect="+OK")
    d.same("GET", "k", expect="db5")
    # a script starts in the caller's database
    d.eval("return redis.call('get', 'k')", expect="db5")
    d.eval("redis.call('select', 0) return redis.call('exists', 'k')", expect=":0")
    d.same("GET", "k", expect="db5")
    d.eval("redis.call('select', 2) return redis.call('dbsize')", expect=":0")
    d.eval("return redis.call('select', 99)", expect="DB index is out of range")
    d.eval("return redis.pcall('select', 'x')", expect="value is not an integer")
    d.eval("redis.call('select', 3) redis.call('set', 'k3', 'v') error('after select')",
           expect="after select")
    d.same("GET", "k3", expect="$-1" if d.protocol == 2 else "_")
    d.same("SELECT", "3", expect="+OK")
    d.same("GET", "k3", expect="$1\r\nv\r\n")
    d.same("SELECT", "0", expect="+OK")


def test_swapdb_and_move_inside_a_script(d):
    d.setup(("SET", "k", "v0"))
    d.eval("return redis.call('move', 'k', 1)", expect=":1")
    d.same("EXISTS", "k", expect=":0")
    d.eval("return redis.call('swapdb', 0, 1)", expect="+OK")
    d.same("GET", "k", expect="v0")


def test_scripts_inside_multi(d):
    body = "return redis.call('incr', KEYS[1])"
    d.same("SCRIPT", "FLUSH", expect="+OK")
    d.same("MULTI", expect="+OK")
    d.eval(body, ("c",), expect="QUEUED")
    d.eval("return redis.call('nosuch')", expect="QUEUED")
    d.same("EVALSHA", sha1(body), "1", "c", expect="QUEUED")
    d.same("EVALSHA", "abc", "0", expect="QUEUED")
    d.same("EVAL", "return 1", "x", expect="QUEUED")
    d.same("EVAL", "return 1", "-1", expect="QUEUED")
    d.eval("return {err = 'MY own'}", expect="QUEUED")
    d.eval("redis.call('select', 3) return redis.call('set', 'k', 'v')", expect="QUEUED")
    d.same("GET", "k", expect="QUEUED")
    d.same("EXEC", expect="*9\r\n:1\r\n-ERR Unknown Redis command called from script script: ")
    d.same("GET", "c", expect="$1\r\n2\r\n")


def test_script_arity_error_dooms_multi(d):
    d.same("MULTI", expect="+OK")
    d.same("EVAL", "return 1", expect="wrong number of arguments for 'eval' command")
    d.same("SET", "x", "1", expect="QUEUED")
    d.same("EXEC", expect="-EXECABORT Transaction discarded because of previous errors.")
    d.same("EXISTS", "x", expect=":0")
    d.same("MULTI", expect="+OK")
    d.same("SCRIPT", "NOSUCH", expect="unknown subcommand")
    d.same("EXEC", expect="EXECABORT")


def test_script_load_then_evalsha_inside_multi(d):
    body = "return 'loaded in multi'"
    d.same("SCRIPT", "FLUSH", expect="+OK")
    d.same("MULTI", expect="+OK")
    d.same("SCRIPT", "LOAD", body, expect="QUEUED")
    d.same("EVALSHA", sha1(body), "0", expect="QUEUED")
    d.same("EXEC", expect="loaded in multi")


@pytest.mark.parametrize(("script", "aborts"), [
    ("return redis.call('set', KEYS[1], 'v')", True),
    ("redis.call('set', KEYS[1], 'x') redis.call('del', KEYS[1]) return 1", True),
    ("redis.call('set', KEYS[1], 'y') error('after write')", True),
    ("redis.pcall('lpush', KEYS[1], 'y') return 1", False),  # WRONGTYPE: no write
    ("return redis.call('get', KEYS[1])", False),
    ("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", False),
    ("return redis.pcall('incr', 'unrelated')", False),
    ("return redis.call('set', KEYS[1], 'same')", True),
])
def test_watch_and_a_script(d, subject, redis_server, script, aborts):
    other = Pair(subject.port, redis_server.port, d.protocol)
    other.history = d.history
    try:
        d.setup(("SET", "w", "same"))
        d.same("WATCH", "w", expect="+OK")
        other.eval(script, ("w",))
        d.same("MULTI", expect="+OK")
        d.same("GET", "w", expect="QUEUED")
        null = {2: "*-1\r\n", 3: "_\r\n"}[d.protocol]
        reply = d.same("EXEC")
        assert (reply == null.encode()) == aborts, f"redis-server's EXEC gave {reply!r}"
    finally:
        other.close()


def test_watch_then_own_script_write(d):
    d.same("WATCH", "w", expect="+OK")
    d.eval("return redis.call('set', KEYS[1], 'own')", ("w",), expect="+OK")
    d.same("MULTI", expect="+OK")
    d.same("GET", "w", expect="QUEUED")
    d.same("EXEC", expect="*-1" if d.protocol == 2 else "_")


def test_watch_inside_multi_with_script(d):
    d.same("MULTI", expect="+OK")
    d.same("WATCH", "x", expect="WATCH inside MULTI is not allowed")
    d.eval("return 1", expect="QUEUED")
    d.same("EXEC", expect="*1\r\n:1\r\n")


# --- blocking commands inside scripts --------------------------------------------------------

def test_blocking_commands_in_scripts_do_not_block(d):
    """BLPOP & co. are refused; BLMPOP and BZMPOP are allowed and never block, even with a
    timeout of 0 (forever) on empty keys."""
    for script, expect in [
        ("return redis.call('blmpop', 0, 1, 'nolist', 'left')", None),
        ("return redis.call('blmpop', 0.01, 2, 'nolist', 'other', 'right')", None),
        ("return redis.call('bzmpop', 0, 1, 'nozset', 'min')", None),
        ("return redis.call('bzmpop', 0, 1, 'nozset', 'max', 'count', 5)", None),
        ("return redis.call('blmpop', -1, 1, 'nolist', 'left')", "timeout is negative"),
        ("return redis.call('blpop', 'nolist', 0)", "not allowed from script"),
        ("return redis.call('brpop', 'nolist', 0)", "not allowed from script"),
        ("return redis.call('blmove', 'nolist', 'x', 'left', 'left', 0)", "not allowed"),
        ("return redis.call('brpoplpush', 'nolist', 'x', 0)", "not allowed from script"),
        ("return redis.call('bzpopmin', 'nozset', 0)", "not allowed from script"),
        ("return redis.call('bzpopmax', 'nozset', 0)", "not allowed from script"),
    ]:
        started = time.monotonic()
        d.eval(script, expect=expect)
        assert time.monotonic() - started < 2, f"{script} blocked"
    d.setup(("RPUSH", "l", "a", "b", "c"), ("ZADD", "z", "1", "m", "2", "n"))
    d.eval("return redis.call('blmpop', 0, 1, 'l', 'left', 'count', 2)", expect="$1\r\na\r\n")
    d.eval("return redis.call('bzmpop', 0, 1, 'z', 'max')", expect="$1\r\nn\r\n")
    d.eval("redis.setresp(3) return redis.call('bzmpop', 0, 1, 'z', 'min')", expect="m")
    d.same("LRANGE", "l", "0", "-1", expect="*1\r\n$1\r\nc\r\n")


def test_xread_block_in_a_script(d):
    skip_unless_known(d, "xread", "xadd")
    d.eval("return redis.call('xread', 'block', 0, 'streams', 's', '$')",
           expect="-ERR xread command is not allowed with BLOCK option from scripts script: ")
    d.eval("return redis.call('xread', 'streams', 's', '0')", expect=None)
    d.setup(("XADD", "s", "1-1", "f", "v"))
    d.eval("return redis.call('xread', 'streams', 's', '0')", expect="1-1")
    d.eval("redis.setresp(3) return redis.call('xread', 'streams', 's', '0')", expect="1-1")


def test_a_client_blocked_on_a_key_is_served_by_a_script(d, subject, redis_server):
    """A client blocked on a list a script pushes to is served after the script, with what
    the script left (the script itself is atomic)."""
    waiter = Pair(subject.port, redis_server.port, d.protocol)
    try:
        for conn in (waiter.ours, waiter.theirs):
            conn.sock.sendall(encode_command([b"BLPOP", b"q", b"3"]))
        time.sleep(0.2)
        d.eval("redis.call('rpush', 'q', 'a', 'b') redis.call('lpop', 'q') return 1",
               expect=":1")
        got = [read_reply(conn.stream) for conn in (waiter.ours, waiter.theirs)]
        assert b"$1\r\nb\r\n" in got[1], got[1]
        assert got[0] == got[1], (
            f"BLPOP q 3 served after a script\nvalkdb: {got[0]!r}\nredis:  {got[1]!r}")
        d.same("LRANGE", "q", "0", "-1", expect="*0\r\n")
    finally:
        waiter.close()


# --- INFO ------------------------------------------------------------------------------------

SCRIPT_INFO_WORDS = ("lua", "script", "_vm_", "function", "librar")


def _info_fields(reply: bytes) -> dict[str, str]:
    body = reply[reply.index(b"\r\n") + 2:-2] if reply[:1] in b"$=" else reply
    if reply[:1] == b"=":
        body = body[4:]
    fields = {}
    for line in body.decode(errors="replace").split("\r\n"):
        if ":" in line and not line.startswith("#"):
            name, _, value = line.partition(":")
            fields[name] = value
    return fields


def test_info_script_fields(d):
    d.same("SCRIPT", "FLUSH", expect="+OK")
    ours = _info_fields(d.ours_call("INFO", "memory"))
    theirs = _info_fields(d.theirs_call("INFO", "memory"))
    names = [n for n in theirs if any(w in n for w in SCRIPT_INFO_WORDS)]
    assert "number_of_cached_scripts" in names and "used_memory_scripts_eval" in names
    mine = [n for n in ours if any(w in n for w in SCRIPT_INFO_WORDS)]
    assert mine == names, f"INFO memory, script fields\nvalkdb: {mine}\nredis:  {names}"
    everything = _info_fields(d.ours_call("INFO"))
    missing = [n for n in names if n not in everything]
    assert not missing, f"INFO (default sections) lacks {missing}"

    def fields(when: str, exact: tuple[str, ...], nonzero: tuple[str, ...] = (),
               zero: tuple[str, ...] = ()) -> None:
        ours = _info_fields(d.ours_call("INFO", "memory"))
        theirs = _info_fields(d.theirs_call("INFO", "memory"))
        for name in exact:
            assert ours.get(name) == theirs[name], (
                f"INFO memory {name} {when}\nvalkdb: {ours.get(name)}\nredis:  {theirs[name]}")
        for name, want in [(n, "> 0") for n in nonzero] + [(n, "0") for n in zero]:
            def good(value: str | None, want: str = want) -> bool:
                return value not in (None, "0") if want == "> 0" else value == "0"
            assert good(theirs[name]), f"the test is wrong: redis {name} {theirs[name]} {when}"
            mine_ok = good(ours.get(name))
            assert mine_ok, (f"INFO memory {name} {when} should be {want}\n"
                             f"valkdb: {ours.get(name)}\nredis:  {theirs[name]}")

    counts = ("number_of_cached_scripts", "number_of_functions", "number_of_libraries")
    fields("after SCRIPT FLUSH", counts, zero=("used_memory_scripts_eval",))
    d.eval("return 1")
    d.same("SCRIPT", "LOAD", "return 2")
    d.eval("return 1")                 # the same body: still one script
    d.eval("return (")                 # does not compile: not cached
    d.same("EVALSHA", sha1("return 2"), "0")
    d.eval("#!lua flags=no-writes\nreturn 1")
    fields("after caching 3 scripts", counts,
           nonzero=("used_memory_scripts_eval", "used_memory_lua", "used_memory_vm_eval"))
    d.same("SCRIPT", "FLUSH", expect="+OK")
    fields("after the second SCRIPT FLUSH", counts, zero=("used_memory_scripts_eval",))


# --- a corpus of real scripts from libraries -------------------------------------------------

def _redis_py_lock() -> type:
    from redis.lock import Lock
    return Lock


def test_redis_py_lock_release(d):
    lock = _redis_py_lock()
    release = lock.LUA_RELEASE_SCRIPT
    d.setup(("SET", "lock:res", "token-1", "PX", "30000"))
    d.eval(release, ("lock:res",), ("token-2",), expect=":0\r\n")
    d.same("EXISTS", "lock:res", expect=":1")
    d.eval(release, ("lock:res",), ("token-1",), expect=":1\r\n")
    d.same("EXISTS", "lock:res", expect=":0")
    d.eval(release, ("lock:res",), ("token-1",), expect=":0\r\n")
    sha = sha1(release)
    d.same("SCRIPT", "LOAD", release, expect=sha)
    d.setup(("SET", "lock:res", "t", "PX", "30000"))
    d.same("EVALSHA", sha, "1", "lock:res", "t", expect=":1\r\n")


def test_redis_py_lock_extend(d):
    extend = _redis_py_lock().LUA_EXTEND_SCRIPT
    d.setup(("SET", "lock:e", "tok", "PX", "10000"))
    d.eval(extend, ("lock:e",), ("bad", "5000", "0"), expect=":0\r\n")
    d.eval(extend, ("lock:e",), ("tok", "5000", "0"), expect=":1\r\n")   # add to the TTL
    d.check("PTTL", "lock:e")
    d.eval(extend, ("lock:e",), ("tok", "60000", "1"), expect=":1\r\n")  # replace the TTL
    d.check("PTTL", "lock:e")
    # A TTL <= 0: newer redis-py scripts leave the key, older ones PEXPIRE it away; so each
    # such step starts from a fresh lock.
    d.eval(extend, ("lock:e",), ("tok", "0", "1"), expect=":1\r\n")
    d.check("PTTL", "lock:e")
    d.setup(("SET", "lock:e", "tok", "PX", "10000"))
    d.eval(extend, ("lock:e",), ("tok", "-100000", "0"), expect=":1\r\n")
    d.setup(("SET", "lock:e", "tok", "PX", "10000"))
    d.setup(("SET", "lock:p", "tok"))                                    # no TTL at all
    d.eval(extend, ("lock:p",), ("tok", "5000", "0"), expect=":0\r\n")
    d.same("PTTL", "lock:p", expect=":-1")
    d.eval(extend, ("lock:none",), ("tok", "5000", "0"), expect=":0\r\n")
    d.eval(extend, ("lock:e",), ("tok", "abc", "1"))  # a Lua error or PEXPIRE's, by version


def test_redis_py_lock_reacquire(d):
    reacquire = _redis_py_lock().LUA_REACQUIRE_SCRIPT
    d.setup(("SET", "lock:r", "tok", "PX", "1000"))
    d.eval(reacquire, ("lock:r",), ("other", "50000"), expect=":0\r\n")
    d.eval(reacquire, ("lock:r",), ("tok", "50000"), expect=":1\r\n")
    d.check("PTTL", "lock:r")
    d.eval(reacquire, ("lock:r",), ("tok", "0"), expect=":1\r\n")
    d.check("PTTL", "lock:r")
    d.eval(reacquire, ("lock:gone",), ("tok", "50000"), expect=":0\r\n")


def test_redis_py_lock_end_to_end(subject, redis_server):
    """redis-py's Lock itself against both servers: the same outcome at every step."""
    import redis

    outcomes = []
    for port in (subject.port, redis_server.port):
        client = redis.Redis(port=port, socket_timeout=5)
        try:
            client.delete("e2e-lock")
            lock = client.lock("e2e-lock", timeout=10, blocking=False)
            steps = [lock.acquire(), client.lock("e2e-lock", blocking=False).acquire(),
                     lock.extend(5), lock.reacquire(), lock.owned(), lock.locked()]
            lock.release()
            steps += [lock.locked(), client.exists("e2e-lock")]
            try:
                lock.release()
                steps.append("released twice")
            except redis.exceptions.LockError as error:
                steps.append(type(error).__name__)
            outcomes.append(steps)
        finally:
            client.close()
    assert outcomes[0] == outcomes[1], f"valkdb: {outcomes[0]}\nredis:  {outcomes[1]}"


def _python_redis_lock():
    if importlib.util.find_spec("redis_lock") is None:
        pytest.skip("python-redis-lock is not installed (pip install python-redis-lock)")
    import redis_lock
    return redis_lock


def test_python_redis_lock_scripts(d):
    rl = _python_redis_lock()
    keys = ("lock:job", "lock-signal:job")
    d.setup(("SET", "lock:job", "id-1", "EX", "100"))
    d.eval(rl.EXTEND_SCRIPT, keys[:1], ("id-2", "200"), expect=":1\r\n")
    d.eval(rl.EXTEND_SCRIPT, keys[:1], ("id-1", "200"), expect=":0\r\n")
    d.check("TTL", "lock:job")
    d.eval(rl.UNLOCK_SCRIPT, keys, ("id-2", "1000"), expect=":1\r\n")
    d.eval(rl.UNLOCK_SCRIPT, keys, ("id-1", "1000"), expect=":0\r\n")
    d.same("EXISTS", "lock:job", expect=":0")
    d.same("LRANGE", "lock-signal:job", "0", "-1", expect="*1\r\n$1\r\n1\r\n")
    d.check("PTTL", "lock-signal:job")
    d.setup(("SET", "lock:nottl", "id"))
    d.eval(rl.EXTEND_SCRIPT, ("lock:nottl",), ("id", "200"), expect=":2\r\n")
    d.setup(("SET", "lock:a", "x"), ("SET", "lock:b", "y"), ("SET", "other", "z"))
    d.eval(rl.RESET_SCRIPT, ("lock:a", "lock-signal:a"), ("id", "1000"), expect=":1\r\n")
    d.same("EXISTS", "lock:a", "lock-signal:a", expect=":1")
    d.eval(rl.RESET_ALL_SCRIPT, (), (), expect=":2\r\n")   # lock:b and lock:nottl
    d.same("EXISTS", "lock:b", "lock:nottl", "other", expect=":1")
    d.same("LRANGE", "lock-signal:b", "0", "-1", expect="$1\r\n1\r\n")
    d.check("TTL", "lock-signal:nottl")


def test_python_redis_lock_end_to_end(subject, redis_server):
    rl = _python_redis_lock()
    import redis

    outcomes = []
    for port in (subject.port, redis_server.port):
        client = redis.Redis(port=port, socket_timeout=5)
        try:
            client.delete("lock:e2e", "lock-signal:e2e")
            lock = rl.Lock(client, "e2e", expire=30, id=b"me")
            steps = [lock.acquire(blocking=False), rl.Lock(client, "e2e").acquire(blocking=False),
                     lock.locked(), lock.get_owner_id()]
            lock.extend(60)
            steps.append(client.ttl("lock:e2e"))
            lock.release()
            steps += [lock.locked(), client.lrange("lock-signal:e2e", 0, -1)]
            try:
                lock.release()
            except rl.NotAcquired as error:
                steps.append(type(error).__name__)
            rl.reset_all(client)
            steps.append(client.keys("lock:*"))
            outcomes.append(steps)
        finally:
            client.close()
    assert outcomes[0] == outcomes[1], f"valkdb: {outcomes[0]}\nredis:  {outcomes[1]}"


def _limits_script(name: str) -> str:
    if importlib.util.find_spec("limits") is None:
        pytest.skip("limits is not installed (pip install limits)")
    path = importlib.resources.files("limits") / "resources" / "redis" / "lua_scripts" / name
    return path.read_text()


def test_limits_incr_expire_and_clear_keys(d):
    incr = _limits_script("incr_expire.lua")
    clear = _limits_script("clear_keys.lua")
    d.eval(incr, ("LIMITER/a/1/second",), ("60", "1"), expect=":1\r\n")
    d.check("TTL", "LIMITER/a/1/second")
    d.eval(incr, ("LIMITER/a/1/second",), ("60", "5"), expect=":6\r\n")
    d.eval(incr, ("LIMITER/b",), ("30", "3"), expect=":3\r\n")
    d.setup(("SET", "unrelated", "1"))
    d.eval(clear, ("LIMITER*",), (), expect=":2\r\n")
    d.same("EXISTS", "unrelated", expect=":1")
    d.setup(("SET", "s", "str"))
    d.eval(incr, ("s",), ("60", "1"), expect="value is not an integer")


def test_limits_moving_window(d):
    acquire = _limits_script("acquire_moving_window.lua")
    window = _limits_script("moving_window.lua")
    key = ("LIMITER/mw",)
    now, limit, expiry = 1_700_000_000, 5, 60
    d.eval(acquire, key, (now, limit, expiry, 2), expect=":1\r\n")
    d.eval(acquire, key, (now + 1, limit, expiry, 2), expect=":1\r\n")
    d.eval(acquire, key, (now + 2, limit, expiry, 2), expect=None)   # 6 > 5: refused (nil)
    d.eval(acquire, key, (now + 2, limit, expiry, 1), expect=":1\r\n")
    d.eval(acquire, key, (now + 3, limit, expiry, 9), expect=None)   # more than the limit
    d.same("LRANGE", "LIMITER/mw", "0", "-1", expect="*5\r\n")
    d.check("TTL", "LIMITER/mw")
    d.eval(window, key, (now - expiry, limit), expect="*2\r\n")
    d.eval(window, key, (now + 1, limit), expect="*2\r\n")
    d.eval(window, key, (now + 100, limit), expect=None)
    d.eval(window, ("LIMITER/none",), (now, limit), expect=None)
    d.eval(acquire, key, (now + expiry + 10, limit, expiry, 5), expect=":1\r\n")


def test_limits_sliding_window(d):
    acquire = _limits_script("acquire_sliding_window.lua")
    window = _limits_script("sliding_window.lua")
    keys = ("LIMITER/sw/prev", "LIMITER/sw/cur")
    d.eval(window, keys, (60,), expect="*4\r\n")
    d.eval(acquire, keys, (10, 60, 3), expect=":1\r\n")
    d.eval(acquire, keys, (10, 60, 5), expect=":1\r\n")
    d.eval(acquire, keys, (10, 60, 5), expect=None)
    d.eval(acquire, keys, (10, 60, 11), expect=None)
    d.same("GET", "LIMITER/sw/cur", expect="8")
    d.check("PTTL", "LIMITER/sw/cur")
    # the current window nearly over: the script shifts it to the previous one
    d.setup(("SET", "LIMITER/sw/cur", "4", "PX", "30000"))
    reply = d.theirs_call("EVAL", window, "2", *keys, "60")
    ours = d.ours_call("EVAL", window, "2", *keys, "60")
    assert ours[:1] == reply[:1] == b"*", (ours, reply)
    d.same("GET", "LIMITER/sw/prev", expect="4")
    d.same("GET", "LIMITER/sw/cur", expect="0")
    d.check("PTTL", "LIMITER/sw/prev")
    d.check("PTTL", "LIMITER/sw/cur")


def test_limits_end_to_end(subject, redis_server):
    if importlib.util.find_spec("limits") is None:
        pytest.skip("limits is not installed (pip install limits)")
    from limits import parse
    from limits.storage import storage_from_string
    from limits.strategies import (
        FixedWindowRateLimiter,
        MovingWindowRateLimiter,
        SlidingWindowCounterRateLimiter,
    )

    outcomes = []
    for port in (subject.port, redis_server.port):
        storage = storage_from_string(f"redis://127.0.0.1:{port}", socket_timeout=5)
        storage.reset()
        steps = []
        for strategy in (FixedWindowRateLimiter, MovingWindowRateLimiter,
                         SlidingWindowCounterRateLimiter):
            limiter = strategy(storage)
            item = parse("3/minute")
            steps.append([limiter.hit(item, "user", strategy.__name__) for _ in range(5)])
            steps.append(limiter.test(item, "user", strategy.__name__))
            steps.append(limiter.get_window_stats(item, "user", strategy.__name__).remaining)
        steps.append(storage.reset() is not None)
        outcomes.append(steps)
    assert outcomes[0] == outcomes[1], f"valkdb: {outcomes[0]}\nredis:  {outcomes[1]}"


# --- hypothesis ------------------------------------------------------------------------------

def _lua_number(value: float) -> str:
    if math.isnan(value):
        return "(0/0)"
    if math.isinf(value):
        return "(1/0)" if value > 0 else "(-1/0)"
    return "(" + repr(value) + ")"


_identifiers = st.sampled_from(["a", "b", "c", "ok", "err", "double", "map", "set", "x1"])
_scalars = st.one_of(
    st.binary(max_size=10).map(lua_string),
    st.integers(-(2**70), 2**70).map(lambda n: f"({n})"),
    st.floats(allow_nan=True, allow_infinity=True).map(_lua_number),
    st.sampled_from(["true", "false", "nil", "-0.0", "0.5", "-0.5", "3.7"]),
)


def _tables(children):
    return st.one_of(
        st.lists(children, max_size=5).map(lambda xs: "{" + ", ".join(xs) + "}"),
        st.dictionaries(_identifiers, children, max_size=3).map(
            lambda kv: "{" + ", ".join(f"[{k!r}] = {v}" for k, v in kv.items()) + "}"),
        children.map(lambda c: "{ok = " + c + "}"),
        st.binary(max_size=8).map(lambda s: "{err = " + lua_string(s) + "}"),
        st.floats().map(lambda f: "{double = " + _lua_number(f) + "}"),
        st.dictionaries(st.binary(max_size=4), children, max_size=1).map(
            lambda kv: "{map = {" + ", ".join(f"[{lua_string(k)}] = {v}"
                                              for k, v in kv.items()) + "}}"),
        st.lists(st.binary(max_size=4), max_size=1).map(
            lambda ks: "{set = {" + ", ".join(f"[{lua_string(k)}] = true" for k in ks) + "}}"),
        st.binary(max_size=6).map(lambda s: "{big_number = " + lua_string(s) + "}"),
        st.tuples(st.sampled_from(["txt", "mkd"]), st.binary(max_size=6)).map(
            lambda fs: "{verbatim_string = {format = '" + fs[0] + "', string = "
            + lua_string(fs[1]) + "}}"),
    )


LUA_VALUES = st.recursive(_scalars, _tables, max_leaves=12)
HYPOTHESIS = settings(max_examples=100, deadline=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture,
                                             HealthCheck.too_slow])


@HYPOTHESIS
@given(value=LUA_VALUES)
def test_hypothesis_lua_values_to_resp(pairs, value):
    for pair in pairs.values():
        pair.history.clear()
        for prefix in ("", "redis.setresp(3) "):
            pair.eval(prefix + "return " + value)


def _is_negative_zero(number: float) -> bool:
    return number == 0 and math.copysign(1.0, number) < 0


@pytest.mark.xfail(strict=True, reason=(
    "lupa hands an integral Lua number to Python as an int, so redis.call sees -0.0 as 0 "
    "and formats it '0' where Redis's %.17g gives '-0'"))
def test_negative_zero_as_an_argument(pairs):
    pairs[2].eval("return redis.call('echo', (-0.0))")


@HYPOTHESIS
@given(number=st.one_of(st.floats(), st.integers(-(2**66), 2**66).map(float))
       .filter(lambda n: not _is_negative_zero(n)))  # test_negative_zero_as_an_argument
def test_hypothesis_numbers_as_arguments_and_replies(pairs, number):
    """A Lua number passed to a command is formatted like %.17g; returned, it is truncated."""
    literal = _lua_number(number)
    pair = pairs[2]
    pair.history.clear()
    pair.eval(f"return redis.call('echo', {literal})")
    pair.eval(f"return {literal}")
    pair.eval(f"return {{double = {literal}}}")
    pairs[3].eval(f"return {{double = {literal}}}")


_members = st.binary(min_size=0, max_size=6)
_scores = st.one_of(st.floats(allow_nan=False), st.integers(-(2**60), 2**60).map(float))


@HYPOTHESIS
@given(items=st.lists(st.tuples(_scores, _members), min_size=1, max_size=8),
       values=st.lists(_members, min_size=1, max_size=8))
def test_hypothesis_command_replies_to_lua(pairs, items, values):
    for pair in pairs.values():
        pair.history.clear()
        pair.same("DEL", "hz", "hl")
        zadd = ["ZADD", "hz"]
        for score, member in items:
            zadd += [repr(score) if math.isfinite(score) else ("inf" if score > 0 else "-inf"),
                     member]
        pair.same(*zadd)
        pair.same("RPUSH", "hl", *values)
        for prefix in ("", "redis.setresp(3) "):
            pair.eval(D + prefix + "return D(redis.call('zrange', 'hz', 0, -1, 'withscores'))")
            pair.eval(D + prefix + "return D({redis.call('zscore', 'hz', ARGV[1]), "
                      "redis.call('lrange', 'hl', 0, -1), redis.call('llen', 'hl')})",
                      (), (items[0][1],))
            pair.eval(prefix + "return redis.call('zrange', 'hz', 0, -1, 'withscores')")


# --- raw protocol details --------------------------------------------------------------------

def test_eval_pipelined(subject, redis_server):
    """Several scripts in one write: every reply, in order, byte for byte."""
    payload = b"".join(encode_command(c) for c in [
        [b"EVAL", b"return 1", b"0"], [b"EVAL", b"return redis.call('nosuch')", b"0"],
        [b"EVAL", b"return {1, 'two', {3}}", b"0"], [b"EVALSHA", UNKNOWN_SHA.encode(), b"0"],
        [b"EVAL", b"return redis.status_reply('S')", b"0"], [b"PING"]])
    got = []
    for port in (subject.port, redis_server.port):
        conn = RawConnection(port)
        try:
            conn.sock.sendall(payload)
            got.append([read_reply(conn.stream) for _ in range(6)])
        except TimeoutError:
            got.append("timed out")
        finally:
            conn.close()
    assert got[0] == got[1], f"valkdb: {got[0]!r}\nredis:  {got[1]!r}"
