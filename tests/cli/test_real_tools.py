"""Redis's own command-line tools against valkdb: if redis-cli, its --pipe mass import and
redis-benchmark work unchanged, the protocol and the common commands are right where it matters."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import redis

pytestmark = pytest.mark.skipif(
    shutil.which("redis-cli") is None or shutil.which("redis-benchmark") is None,
    reason="redis-cli / redis-benchmark not installed")


def run(*argv: str, stdin: bytes | None = None, timeout: float = 20) -> str:
    """The tool's output; it must exit with 0 and print no error."""
    result = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, check=True)
    assert b"rror" not in result.stderr, result.stderr[-500:]
    return result.stdout.decode()


@pytest.fixture
def port(valkdb_server):
    redis.Redis(port=valkdb_server.port).flushall()
    return str(valkdb_server.port)


def test_redis_cli_commands(port):
    cli = ("redis-cli", "-p", port)
    assert run(*cli, "PING") == "PONG\n"
    assert run(*cli, "SET", "greeting", "hello world") == "OK\n"
    assert run(*cli, "GET", "greeting") == "hello world\n"
    assert run(*cli, "GET", "missing") == "\n"
    assert run(*cli, "INCR", "greeting").startswith("ERR value is not an integer")


def test_redis_cli_pipe_mass_import(port):
    commands = b"".join(
        b"*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$%d\r\n%d\r\n"
        % (len(b"key:%d" % i), i, len(b"%d" % i), i)
        for i in range(100_000))
    output = run("redis-cli", "-p", port, "--pipe", stdin=commands)
    assert "errors: 0, replies: 100000" in output
    client = redis.Redis(port=int(port))
    assert client.dbsize() == 100_000
    assert client.get("key:99999") == b"99999"
    client.flushall()
    client.close()


def test_redis_benchmark_completes_without_errors(port):
    output = run("redis-benchmark", "-p", port, "-t", "ping,set,get,incr,mset",
                 "-n", "20000", "-q", "--csv", timeout=60)
    lines = output.strip().splitlines()
    tests = [line.split(",")[0].strip('"') for line in lines[1:]]
    assert tests == ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"]
    for line in lines[1:]:
        assert float(line.split(",")[1].strip('"')) > 0, line
    assert redis.Redis(port=int(port)).get("counter:__rand_int__") == b"20000"
