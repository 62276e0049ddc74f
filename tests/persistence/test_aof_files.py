"""The multi-part AOF's files (valkdb.persistence.aof) against redis-server 7.0.15 and
redis-check-aof: manifests, reading and writing command files, the directory's rewrite steps.

Where Redis's behaviour is the question, the real binaries are the oracle: a redis-server on a
unix socket loads a crafted directory, redis-check-aof checks a copy of the same files."""

from __future__ import annotations

import io
import logging
import os
import re
import resource
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import start_redis
from valkdb.persistence import aof
from valkdb.persistence.aof import (
    SELECT_DB0,
    AofDirectory,
    AofError,
    AofFile,
    AofFileReader,
    AofInfo,
    AofWriteError,
    Manifest,
    ManifestError,
    bad_format_message,
    check_aof_main,
    encode_command,
    select_command,
)

REDIS_SERVER = shutil.which("redis-server")
REDIS_CHECK_AOF = shutil.which("redis-check-aof")
needs_redis = pytest.mark.skipif(REDIS_SERVER is None or REDIS_CHECK_AOF is None,
                                 reason="redis-server 7.0 / redis-check-aof not installed")
LOG_PREFIX = re.compile(r"(?m)^\d+:[A-Z] \d\d \w{3} \d{4} [\d:.]+ [#*.-] ")
NAME = "appendonly.aof.1.incr.aof"


def cmd(*args: bytes | str) -> bytes:
    return encode_command([a.encode() if isinstance(a, str) else a for a in args])


def set_a(value: str) -> bytes:
    return cmd("SET", "a", value)


MULTI = cmd("MULTI")
EXEC = cmd("EXEC")


def read_all(data: bytes, exact: bool = False) -> tuple:
    """(commands, valid_up_to, truncated, reverted_multi, error) for a file's bytes; exact=True
    disables the hiredis path so that only the model of Redis's parser runs."""
    if exact:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(aof, "_canonical_commands", lambda buf, pos: ([], 0, False))
            return read_all(data)
    reader = AofFileReader(io.BytesIO(data), NAME)
    commands: list[list[bytes]] = []
    error = None
    try:
        for argv in reader.commands():
            commands.append(argv)
    except AofError as exc:
        error = str(exc)
    return commands, reader.valid_up_to, reader.truncated, reader.reverted_multi, error


def strip_log(text: str) -> str:
    return LOG_PREFIX.sub("", text)


def write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


# --- manifest ------------------------------------------------------------------------------------

# File names Redis can write into a manifest and read back: no path separators or NUL, not
# empty, and a single quote only inside a quoted name (written unquoted, it breaks the line).
names = st.binary(min_size=1, max_size=40).filter(
    lambda n: b"/" not in n and b"\\" not in n and b"\0" not in n
    and (b"'" not in n or aof._needs_repr(n))).map(os.fsdecode)
seqs = st.integers(1, 2**63 - 1)


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    base = draw(st.none() | st.builds(AofInfo, names, seqs, st.just("b")))
    history = draw(st.lists(st.builds(AofInfo, names, seqs, st.just("h")), max_size=3))
    incr_seqs = sorted(draw(st.sets(seqs, max_size=4)))
    incrs = [AofInfo(draw(names), seq, "i") for seq in incr_seqs]
    return Manifest(base, history, incrs, base.seq if base else 0,
                    incr_seqs[-1] if incr_seqs else 0)


@given(manifests())
def test_manifest_format_then_parse_gives_it_back(manifest: Manifest) -> None:
    text = manifest.format()
    if not text:
        with pytest.raises(ManifestError, match="Found an empty AOF manifest"):
            Manifest.parse(text)
        return
    assert Manifest.parse(text) == manifest
    assert Manifest.parse(text).format() == text


def test_manifest_quoting_is_sdscatrepr() -> None:
    manifest = Manifest(AofInfo('my "file".aof\t\x01', 1, "b"))
    assert manifest.format() == b'file "my \\"file\\".aof\\t\\x01" seq 1 type b\n'
    manifest = Manifest(AofInfo("plain'quote", 2, "b"))
    assert manifest.format() == b"file plain'quote seq 2 type b\n"  # Redis does not quote it


def test_manifest_parsing_follows_sdssplitargs_and_atoll() -> None:
    parsed = Manifest.parse(b"# a comment\n"
                            b"  FILE 'a b' SEQ 7x TYPE base extra value \r\n"
                            b'file "c\\x41\\n" seq 3 type i\n'
                            b"file h1 seq 2 type h\n")
    assert parsed.base == AofInfo("a b", 7, "b")
    assert parsed.incrs == [AofInfo("cA\n", 3, "i")]
    assert parsed.history == [AofInfo("h1", 2, "h")]
    assert (parsed.base_seq, parsed.incr_seq) == (7, 3)
    assert parsed.files() == [parsed.base, *parsed.incrs]


MANIFEST_FAULTS = {
    "empty": b"",
    "blank line": b"file a.1.base.rdb seq 1 type b\n\nfile a.1.incr.aof seq 1 type i\n",
    "last line without newline": b"file a.1.base.rdb seq 1 type b",
    "too long line": b"file " + b"x" * 1100 + b" seq 1 type b\n",
    "too short": b"file a.1.incr.aof seq 1\n",
    "odd parameter count": b"file a.1.incr.aof seq 1 type i extra\n",
    "missing key": b"file a.1.incr.aof seq 1 kind i\n",
    "seq not a number": b"file a.1.incr.aof seq abc type i\n",
    "seq zero": b"file a.1.incr.aof seq 0 type i\n",
    "path": b"file dir/a.1.incr.aof seq 1 type i\n",
    "backslash": b"file dir\\a.1.incr.aof seq 1 type i\n",
    "duplicate base": b"file a.1.base.rdb seq 1 type b\nfile a.2.base.rdb seq 2 type b\n",
    "non-monotonic": b"file a.2.incr.aof seq 2 type i\nfile a.1.incr.aof seq 1 type i\n",
    "unknown type": b"file a.1.incr.aof seq 1 type x\n",
    "unbalanced quote": b'file "a.1.incr.aof seq 1 type i\n',
    "quote then letters": b'file "a"b seq 1 type i\n',
    "single quote unquoted": b"file a'b seq 1 type i\n",
    "NUL in line": b"file a\0b seq 1 type i\n",
}


@contextmanager
def redis_on_dir(workdir: str, *args: str) -> Iterator[tuple[redis.Redis | None, str]]:
    """redis-server (appendonly yes) loading `workdir`, on a unix socket: (a client, or None if
    it exited, and the log path). Stopped (SIGTERM) afterwards."""
    sock = os.path.join(workdir, "redis.sock")
    log_path = os.path.join(workdir, "redis.log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [REDIS_SERVER or "redis-server", "--port", "0", "--unixsocket", sock, "--save", "",
             "--appendonly", "yes", "--dir", workdir, "--daemonize", "no", *args],
            stdout=log, stderr=subprocess.STDOUT)
    client = None
    try:
        deadline = time.monotonic() + 10
        while proc.poll() is None and b"eady to accept connections" not in read(log_path):
            assert time.monotonic() < deadline, "redis-server neither up nor down"
            time.sleep(0.01)
        if proc.poll() is None:
            client = redis.Redis(unix_socket_path=sock, socket_timeout=5)
        yield client, log_path
    finally:
        if client is not None:
            client.close()
        if proc.poll() is None:
            proc.terminate()
        proc.wait(10)


def log_of(path: str) -> str:
    return strip_log(read(path).decode(errors="replace"))


@needs_redis
@pytest.mark.parametrize("fault", MANIFEST_FAULTS)
def test_manifest_faults_fail_with_redis_messages(fault: str, tmp_path) -> None:
    text = MANIFEST_FAULTS[fault]
    with pytest.raises(ManifestError) as caught:
        Manifest.parse(text)
    aof_dir = tmp_path / "appendonlydir"
    aof_dir.mkdir()
    write(str(aof_dir / "appendonly.aof.manifest"), text)
    with redis_on_dir(str(tmp_path)) as (client, log_path):
        assert client is None
        log = log_of(log_path)
    assert "".join(m + "\n" for m in caught.value.log_messages) in log
    assert f"{caught.value}\n" in log


def test_load_manifest_without_directory_or_manifest(tmp_path) -> None:
    directory = AofDirectory(str(tmp_path), "appendonlydir", "appendonly.aof")
    assert directory.load_manifest() is None
    (tmp_path / "appendonlydir").mkdir()
    assert directory.load_manifest() is None
    write(directory.manifest_path, b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    assert directory.load_manifest() == Manifest(incrs=[AofInfo(NAME, 1, "i")], incr_seq=1)


# --- reading command files -----------------------------------------------------------------------

def test_reader_skips_annotations_and_keeps_exact_bytes() -> None:
    data = (b"#TS:1700000000\r\n" + SELECT_DB0 + cmd("SET", b"k\r\n\0", b"") + b"#note\n"
            + cmd("RPUSH", "l", "a", "b") + MULTI + cmd("INCR", "n") + EXEC)
    commands, valid_up_to, truncated, reverted, error = read_all(data)
    assert commands == [[b"SELECT", b"0"], [b"SET", b"k\r\n\0", b""], [b"RPUSH", b"l", b"a", b"b"],
                        [b"MULTI"], [b"INCR", b"n"], [b"EXEC"]]
    assert (valid_up_to, truncated, reverted, error) == (len(data), False, False, None)


def test_reader_truncated_tail_ends_at_last_complete_command() -> None:
    data = set_a("1") + set_a("2")
    commands, valid_up_to, truncated, _, error = read_all(data[:-3])
    assert commands == [[b"SET", b"a", b"1"]]
    assert (valid_up_to, truncated, error) == (len(set_a("1")), True, None)


def test_reader_reverts_unfinished_multi() -> None:
    data = set_a("1") + MULTI + set_a("2")
    commands, valid_up_to, truncated, reverted, _ = read_all(data)
    assert commands == [[b"SET", b"a", b"1"], [b"MULTI"], [b"SET", b"a", b"2"]]
    assert (valid_up_to, truncated, reverted) == (len(set_a("1")), True, True)


def test_reader_bad_format_in_the_middle() -> None:
    data = set_a("1") + b"!" + set_a("2")[1:] + set_a("3")
    commands, _, truncated, _, error = read_all(data)
    assert commands == [[b"SET", b"a", b"1"]]
    assert error == bad_format_message(NAME)
    assert not truncated


def test_reader_handles_chunk_boundaries_and_huge_arguments() -> None:
    huge = os.urandom(3 * 1024 * 1024 + 7)
    small = [[b"SET", b"k%d" % i, b"v" * (i % 50)] for i in range(40000)]
    data = (b"".join(map(encode_command, small)) + encode_command([b"SET", b"big", huge])
            + b"#TS:5\r\n" + b"".join(map(encode_command, small)))
    commands, valid_up_to, truncated, _, error = read_all(data)
    assert commands == small + [[b"SET", b"big", huge]] + small
    assert (valid_up_to, truncated, error) == (len(data), False, None)


@st.composite
def aof_files(draw: st.DrawFn) -> bytes:
    """Command files as Redis writes them and as hand edits or crashes leave them: canonical
    commands (MULTI/EXEC too), annotations, headers Redis's atoi()/strtol() still read, bulks
    without CRLF, a cut at the end or a damaged byte."""
    argument = st.binary(max_size=12) | st.sampled_from([b"MULTI", b"exec", b"Multi", b"\r\n"])
    pieces = []
    for _ in range(draw(st.integers(0, 12))):
        argv = draw(st.lists(argument, min_size=1, max_size=4))
        kind = draw(st.sampled_from(["canonical"] * 4 + ["annotation", "header", "bulk"]))
        if kind == "annotation":
            pieces.append(b"#" + draw(st.binary(max_size=8)).replace(b"\n", b"") + b"\r\n")
        elif kind == "header":
            header = draw(st.sampled_from([b"*%d \r\n", b"*+%d\r\n", b"*0%dx\n", b"* %d\r\n"]))
            pieces.append(header % len(argv)
                          + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv))
        elif kind == "bulk":
            pieces.append(b"*%d\r\n" % len(argv)
                          + b"".join(b"$0%d\r\n%sXY" % (len(a), a) for a in argv))
        else:
            pieces.append(encode_command(argv))
    data = b"".join(pieces)
    damage = draw(st.sampled_from(["none", "none", "cut", "byte"]))
    if data and damage == "cut":
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif data and damage == "byte":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + draw(st.binary(min_size=1, max_size=1)) + data[at + 1:]
    return data


@settings(max_examples=300)
@given(aof_files())
def test_hiredis_path_reads_exactly_like_the_model_of_redis(data: bytes) -> None:
    assert read_all(data) == read_all(data, exact=True)


@given(st.lists(st.lists(st.binary(max_size=6), min_size=1, max_size=3).filter(
    lambda argv: argv[0].lower() not in (b"multi", b"exec")), max_size=8),
       st.sets(st.integers(0, 8)), st.data())
def test_truncation_offsets_match_the_command_boundaries(commands, multis, data) -> None:
    """Cut anywhere: complete commands are read, valid_up_to is the last boundary (or where
    an unfinished MULTI started)."""
    items = []
    for i, argv in enumerate(commands):
        if i in multis:
            items += [[b"MULTI"], argv, [b"EXEC"]] if i % 2 else [[b"MULTI"], argv]
        else:
            items.append(argv)
    encoded = [encode_command(argv) for argv in items]
    ends = [sum(map(len, encoded[:i + 1])) for i in range(len(encoded))]
    whole = b"".join(encoded)
    cut = data.draw(st.integers(0, len(whole)))
    got, valid_up_to, truncated, reverted, error = read_all(whole[:cut])
    complete = [argv for argv, end in zip(items, ends, strict=True) if end <= cut]
    assert got == complete and error is None
    boundary = max([0] + [end for end in ends if end <= cut])
    in_multi, before_multi, position = False, 0, 0
    for argv, end in zip(complete, ends, strict=False):
        if argv == [b"MULTI"]:
            in_multi, before_multi = True, position
        elif argv == [b"EXEC"]:
            in_multi = False
        position = end
    if boundary < cut:
        assert (truncated, reverted, valid_up_to) == (True, False, boundary)
    elif in_multi:
        assert (truncated, reverted, valid_up_to) == (True, True, before_multi)
    else:
        assert (truncated, reverted, valid_up_to) == (False, False, cut)


LOADER_CASES = {
    "clean with annotations": b"#TS:1\r\n" + set_a("1") + b"#x\n" + set_a("2"),
    "truncated tail": set_a("1") + set_a("2")[:-3],
    "truncated in the count": set_a("1") + b"*",
    "unfinished MULTI": set_a("1") + MULTI + set_a("2"),
    "truncated inside MULTI": set_a("1") + MULTI + set_a("2") + set_a("3")[:-2],
    "nested MULTI": set_a("1") + MULTI + set_a("2") + MULTI + set_a("7") + EXEC,
    "bad format": set_a("1") + b"!" + set_a("2")[1:],
    "zero count": set_a("1") + b"*0\r\n",
    "LF only": set_a("1").replace(b"\r\n", b"\n"),
    "lenient headers and no CRLF after bulks": (b"*3x\r\n$3\r\nSET\r\n$01\r\naXY$+1\r\n5\r\n"
                                                + set_a("6")),
    "annotation longer than fgets reads": set_a("1") + b"#" + b"x" * 1500 + b"\r\n" + set_a("2"),
    "annotation of 1024 bytes": set_a("1") + b"#" + b"x" * 1021 + b"\r\n" + set_a("2"),
    "annotation of 1023 bytes": set_a("1") + b"#" + b"x" * 1020 + b"\r\n" + set_a("2"),
    "bulk header longer than fgets reads": set_a("1") + b"*3\r\n$3" + b" " * 1100 + b"\r\n",
    "stray bulk header": set_a("1") + b"$1",
}


def apply(commands: list[list[bytes]], reverted: bool) -> bytes | None:
    """The value of key a after SETs run the way Redis's AOF client runs them."""
    value, queued = None, None
    for argv in commands:
        name = argv[0].lower()
        if name == b"multi" and queued is None:
            queued = []
        elif name == b"exec" and queued is not None:
            for q in queued:
                value = q[2] if q[0].lower() == b"set" else value
            queued = None
        elif queued is not None:
            queued.append(argv)
        elif name == b"set":
            value = argv[2]
    return value


@needs_redis
@pytest.mark.parametrize("case", LOADER_CASES)
def test_reader_agrees_with_redis_server_loading(case: str, tmp_path) -> None:
    data = LOADER_CASES[case]
    commands, valid_up_to, truncated, reverted, error = read_all(data)
    aof_dir = tmp_path / "appendonlydir"
    aof_dir.mkdir()
    write(str(aof_dir / NAME), data)
    write(str(aof_dir / "appendonly.aof.manifest"), Manifest(
        incrs=[AofInfo(NAME, 1, "i")], incr_seq=1).format())
    with redis_on_dir(str(tmp_path)) as (client, log_path):
        value = client.get("a") if client else None
    log = log_of(log_path)
    if error is not None:
        assert client is None
        assert error in log
        return
    assert client is not None
    assert value == apply(commands, reverted)
    assert ("Revert incomplete MULTI/EXEC transaction" in log) == reverted
    if truncated:
        assert f"!!! Truncating the AOF {NAME} at offset {valid_up_to} !!!" in log
        assert os.path.getsize(aof_dir / NAME) == valid_up_to
    else:
        assert "Truncating" not in log


# --- writing, the directory, interop -------------------------------------------------------------

def test_encoders_match_redis_bytes() -> None:
    assert SELECT_DB0 == b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
    assert select_command(12) == b"*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n"
    assert encode_command([b"SET", b"k", b""]) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
    assert aof.timestamp_annotation(1700000000) == b"#TS:1700000000\r\n"


@needs_redis
def test_redis_written_files_read_back(tmp_path) -> None:
    server = start_redis("--appendonly", "yes", "--appendfilename", "my file.aof")
    try:
        client = redis.Redis(port=server.port, socket_timeout=10)
        client.set("foo", "bar")
        client.incr("n")
        client.rpush("l", "a", "b", "c")
        client.expire("foo", 100)
        with client.pipeline(transaction=True) as pipe:
            pipe.incr("n").set("x", "y").execute()
        client.execute_command("SELECT", "3")
        client.set("k", "v")
        client.close()
    finally:
        server.stop()
    directory = AofDirectory(server.cwd, "appendonlydir", "my file.aof")
    manifest_bytes = read(directory.manifest_path)
    assert manifest_bytes == (b'file "my file.aof.1.base.rdb" seq 1 type b\n'
                              b'file "my file.aof.1.incr.aof" seq 1 type i\n')
    manifest = directory.load_manifest()
    assert manifest is not None and manifest.format() == manifest_bytes
    base, incr = manifest.files()
    with open(directory.path(base), "rb") as f:
        assert aof.is_rdb(f)
    with open(directory.path(incr), "rb") as f:
        reader = AofFileReader(f, incr.name)
        commands = list(reader.commands())
    assert commands[0] == [b"SELECT", b"0"]
    assert [c[0].upper() for c in commands[1:]] == [
        b"SET", b"INCRBY", b"RPUSH", b"PEXPIREAT", b"MULTI", b"INCRBY", b"SET", b"EXEC",
        b"SELECT", b"SET"]
    assert commands[4][:2] == [b"PEXPIREAT", b"foo"] and int(commands[4][2]) > time.time() * 1000
    assert (reader.truncated, reader.valid_up_to) == (False, os.path.getsize(directory.path(incr)))


@needs_redis
def test_valkdb_written_directory_loads_in_redis(tmp_path) -> None:
    directory = AofDirectory(str(tmp_path), "appendonlydir", "appendonly.aof")
    os.makedirs(directory.path_of_dir)
    manifest = Manifest()
    appended = directory.open_on_start(
        manifest, lambda path, rdb: write(path, cmd("SET", "from-base", "1")), rdb_format=False)
    appended.write(SELECT_DB0 + cmd("SET", "a", "1") + MULTI + cmd("INCR", "n") + EXEC)
    appended.write(select_command(2) + cmd("SET", "b", "x"))
    appended.fsync()
    appended.close()
    assert [i.name for i in manifest.files()] == ["appendonly.aof.1.base.aof", NAME]
    with redis_on_dir(str(tmp_path)) as (client, _):
        assert client is not None
        assert client.mget("from-base", "a", "n") == [b"1", b"1", b"1"]
        client.execute_command("SELECT", "2")
        assert client.get("b") == b"x"
    assert directory.load_manifest() == manifest


@needs_redis
def test_rewrite_steps_produce_redis_manifests(tmp_path) -> None:
    server = start_redis("--appendonly", "yes")
    try:
        client = redis.Redis(port=server.port, socket_timeout=10)
        directory = AofDirectory(server.cwd, "appendonlydir", "appendonly.aof")

        def rewrite() -> bytes:
            before = read(directory.manifest_path)
            client.bgrewriteaof()
            deadline = time.monotonic() + 10
            while read(directory.manifest_path) == before or client.info(
                    "persistence")["aof_rewrite_in_progress"]:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            return read(directory.manifest_path)

        client.set("a", "1")
        manifests = [read(directory.manifest_path), rewrite()]
        client.config_set("aof-disable-auto-gc", "yes")
        client.set("b", "2")
        manifests.append(rewrite())
        client.close()
    finally:
        server.stop()
    ours = AofDirectory(str(tmp_path), "appendonlydir", "appendonly.aof")
    os.makedirs(ours.path_of_dir)
    manifest = Manifest.parse(manifests[0])
    for info in manifest.files():
        write(ours.path(info), b"")
    for expected, gc_off in ((manifests[1], False), (manifests[2], True)):
        manifest, appended = ours.open_new_incr(manifest)
        appended.close()
        temp = ours.rewrite_temp_path(4242)
        write(temp, b"REDIS0010")
        manifest = ours.finish_rewrite(manifest, temp, rdb_format=True, aof_enabled=True,
                                       disable_auto_gc=gc_off)
        assert manifest.format() == expected
        assert read(ours.manifest_path) == expected
    assert sorted(os.listdir(ours.path_of_dir)) == sorted(
        [i.name for i in manifest.files() + manifest.history] + [ours.manifest_name])


def test_directory_naming_history_and_gc(tmp_path, caplog) -> None:
    directory = AofDirectory(str(tmp_path), "d", "x.aof")
    os.makedirs(directory.path_of_dir)
    manifest = Manifest.parse(b"file x.aof.1.base.rdb seq 1 type b\n"
                              b"file x.aof.4.incr.aof seq 4 type i\n"
                              b"file x.aof.5.incr.aof seq 5 type i\n")
    for info in manifest.files():
        write(directory.path(info), b"")
    assert directory.new_incr(manifest) == AofInfo("x.aof.6.incr.aof", 6, "i")
    assert directory.new_base(manifest, rdb_format=False) == AofInfo("x.aof.2.base.aof", 2, "b")
    directory.mark_rewritten_incrs_as_history(manifest, aof_enabled=True)
    assert manifest.format() == (b"file x.aof.2.base.aof seq 2 type b\n"
                                 b"file x.aof.4.incr.aof seq 4 type h\n"
                                 b"file x.aof.5.incr.aof seq 5 type h\n"
                                 b"file x.aof.1.base.rdb seq 1 type h\n"
                                 b"file x.aof.6.incr.aof seq 6 type i\n")
    directory.delete_history(manifest, disable_auto_gc=True)
    assert len(manifest.history) == 3
    with caplog.at_level(logging.INFO, logger="valkdb"):
        directory.delete_history(manifest)
    assert manifest.history == [] and os.listdir(directory.path_of_dir) == ["x.aof.manifest"]
    assert "Removing the history file x.aof.1.base.rdb in the background" in caplog.text
    assert Manifest.parse(read(directory.manifest_path)) == manifest
    with pytest.raises(AofError, match=r"^Unable to obtain the AOF file x.aof.2.base.aof length. "
                                       r"stat: No such file or directory$"):
        directory.sizes(manifest)


def test_write_manifest_is_atomic_and_reports_failures(tmp_path) -> None:
    directory = AofDirectory(str(tmp_path), "d", "x.aof")
    os.makedirs(directory.path_of_dir)
    manifest = Manifest(incrs=[AofInfo("x.aof.1.incr.aof", 1, "i")], incr_seq=1, dirty=True)
    directory.persist(manifest)
    assert os.listdir(directory.path_of_dir) == ["x.aof.manifest"] and not manifest.dirty
    os.makedirs(os.path.join(directory.path_of_dir, "temp-x.aof.manifest"))
    with pytest.raises(AofError, match="^Can't open the AOF manifest file temp-x.aof.manifest: "):
        directory.write_manifest(Manifest())
    assert directory.load_manifest() == manifest


def test_upgrade_moves_an_old_single_file_aof(tmp_path, caplog) -> None:
    directory = AofDirectory(str(tmp_path), "appendonlydir", "appendonly.aof")
    assert not directory.needs_upgrade(None)
    write(str(tmp_path / "appendonly.aof"), set_a("1"))
    assert directory.needs_upgrade(None)
    with caplog.at_level(logging.INFO, logger="valkdb"):
        manifest = directory.upgrade(None)
    assert "Successfully migrated an old-style AOF file (appendonly.aof)" in caplog.text
    assert read(directory.manifest_path) == b"file appendonly.aof seq 1 type b\n"
    assert read(directory.path(manifest.files()[0])) == set_a("1")
    assert not directory.needs_upgrade(manifest)


def test_truncate_short_read_as_redis(tmp_path, caplog) -> None:
    directory = AofDirectory(str(tmp_path), "d", "appendonly.aof")
    os.makedirs(directory.path_of_dir)
    info = AofInfo(NAME, 1, "i")
    data = set_a("1") + MULTI + set_a("2")
    write(directory.path(info), data)
    with open(directory.path(info), "rb") as f:
        reader = AofFileReader(f, NAME)
        list(reader.commands())
    with pytest.raises(AofError, match="^Unexpected end of file reading the append only file"):
        directory.truncate_short_read(reader, info, load_truncated=False, last_file=True)
    assert read(directory.path(info)) == data
    with pytest.raises(AofError, match="^Fatal error: the truncated file is not the last file$"):
        directory.truncate_short_read(reader, info, load_truncated=True, last_file=False)
    with caplog.at_level(logging.WARNING, logger="valkdb"):
        directory.truncate_short_read(reader, info, load_truncated=True, last_file=True)
    assert read(directory.path(info)) == set_a("1")
    assert [r.getMessage() for r in caplog.records][-4:] == [
        f"Revert incomplete MULTI/EXEC transaction in AOF file {NAME}",
        f"!!! Warning: short read while loading the AOF file {NAME}!!!",
        f"!!! Truncating the AOF {NAME} at offset {len(set_a('1'))} !!!",
        f"AOF {NAME} loaded anyway because aof-load-truncated is enabled"]


def test_short_write_is_cut_off_again(tmp_path) -> None:
    path = str(tmp_path / NAME)
    appended = AofFile(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644), NAME)
    appended.write(set_a("1"))
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(set_a("1")) + 10, hard))
    try:
        with pytest.raises(AofWriteError) as caught:
            appended.write(set_a("2") * 3)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)
    assert caught.value.messages == [
        f"Short write while writing to the AOF file: (nwritten=10, expected={len(set_a('2')) * 3})"]
    assert (caught.value.errno, caught.value.kept) == (28, 0)  # ENOSPC, nothing left behind
    assert read(path) == set_a("1") and appended.size == len(set_a("1"))
    appended.write(set_a("2"))
    appended.close()
    assert read(path) == set_a("1") + set_a("2")
    broken = AofFile(os.open(path, os.O_RDONLY), NAME)
    with pytest.raises(AofWriteError, match="^Error writing to the AOF file: Bad file descr"):
        broken.write(b"x")
    broken.close()


# --- check-aof -----------------------------------------------------------------------------------

def redis_check_aof(*args: str) -> tuple[int, list[str]]:
    done = subprocess.run([REDIS_CHECK_AOF or "redis-check-aof", *args], input=b"y\n",
                          capture_output=True, timeout=30)
    text = strip_log(done.stdout.decode("latin-1")).replace("Continue? [y/N]: ", "")
    return done.returncode, text.splitlines()


def ours(*args: str) -> tuple[int, list[str]]:
    code, lines = check_aof_main(list(args), prog=REDIS_CHECK_AOF or "redis-check-aof")
    return code, strip_log("".join(line + "\n" for line in lines)).splitlines()


P = cmd("GET", "a")
SINGLE_FILES = {
    "valid": P + MULTI + P + EXEC,
    "truncated": P + P[:-4],
    "multi at eof": P + MULTI + P,
    "nested multi": P + MULTI + P + MULTI + P + EXEC,
    "exec alone": P + EXEC + P,
    "format error": P + b"!" + P[1:],
    "zero count": b"*0\r\n" + P,
    "negative length": P + b"*1\r\n$-1\r\n" + P,
    "huge length": P + b"*1\r\n$99999999999999999999\r\nab\r\n",
    "annotations": b"#TS:123\r\n" + P + b"#hello\n" + P,
    "LF only": P.replace(b"\r\n", b"\n"),
    "no CRLF after bulk": b"*2\r\n$3\r\nGETxx$1\r\na\r\n",
    "star at eof": P + b"*",
    "count at eof after *10": cmd(*"abcdefghij") + b"*",
    "bulk header at eof": P + b"*2\r\n$3",
    "high bytes": P + b"*1\r\n$3\r\n\xc3\xa9x\xff\r\n",
    "high byte in count": P + b"*1\xff\r\n$3\r\n",
    "newline line": P + b"\r\n" + P,
    "empty": b"",
    "looks like a manifest": cmd("SET", "file", "x"),
    "REDIS but short": b"REDIS",
}


@needs_redis
@pytest.mark.parametrize("fix", [False, True], ids=["check", "fix"])
@pytest.mark.parametrize("case", SINGLE_FILES)
def test_check_aof_single_file_matches_redis_check_aof(case: str, fix: bool, tmp_path) -> None:
    theirs_path, ours_path = str(tmp_path / "theirs.aof"), str(tmp_path / "ours.aof")
    write(theirs_path, SINGLE_FILES[case])
    write(ours_path, SINGLE_FILES[case])
    flags = ["--fix"] if fix else []
    code, lines = redis_check_aof(*flags, theirs_path)
    assert ours(*flags, ours_path) == (code, [line.replace(theirs_path, ours_path)
                                              for line in lines])
    assert read(ours_path) == read(theirs_path)


@settings(max_examples=100)
@given(data=aof_files())
def test_check_aof_fast_path_reports_like_the_exact_one(data: bytes, tmp_path_factory) -> None:
    path = str(tmp_path_factory.mktemp("check") / "x.aof")
    write(path, data)
    fast = ours(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(aof, "_canonical_commands", lambda buf, pos: ([], 0, False))
        assert ours(path) == fast


def multi_part(root: str, files: dict[str, bytes], manifest: bytes) -> str:
    os.makedirs(root)
    for name, data in files.items():
        write(os.path.join(root, name), data)
    write(os.path.join(root, "a.aof.manifest"), manifest)
    return os.path.join(root, "a.aof.manifest")


TWO_FILES = b"file a.aof.1.base.aof seq 1 type b\nfile a.aof.1.incr.aof seq 1 type i\n"
FOUR_FILES = TWO_FILES + b"file a.aof.2.incr.aof seq 2 type i\nfile a.aof.3.incr.aof seq 3 type i\n"
MULTI_PART_CASES = {
    "valid with empty incr": ({"a.aof.1.base.aof": P + P, "a.aof.1.incr.aof": P,
                               "a.aof.2.incr.aof": b"", "a.aof.3.incr.aof": MULTI + P + EXEC},
                              FOUR_FILES),
    "last truncated": ({"a.aof.1.base.aof": P + P, "a.aof.1.incr.aof": P,
                        "a.aof.2.incr.aof": b"", "a.aof.3.incr.aof": P + b"*2\r\n$3"},
                       FOUR_FILES),
    "middle truncated": ({"a.aof.1.base.aof": P, "a.aof.1.incr.aof": P + MULTI,
                          "a.aof.2.incr.aof": P, "a.aof.3.incr.aof": P}, FOUR_FILES),
    "unexpected exec": ({"a.aof.1.base.aof": P, "a.aof.1.incr.aof": EXEC},
                        TWO_FILES),
    "missing incr": ({"a.aof.1.base.aof": P},
                     TWO_FILES),
    "missing base": ({"a.aof.1.incr.aof": P},
                     TWO_FILES),
    "only incrs, comment": ({"a.aof.1.incr.aof": P, "a.aof.2.incr.aof": P},
                            b"# hand made\nfile a.aof.1.incr.aof seq 1 type i\n"
                            b"file a.aof.2.incr.aof seq 2 type i\n"),
    "bad manifest": ({}, b"file a.aof.1.incr.aof seq 1 type i\nfile a.aof.1.incr.aof seq 1 "
                         b"type i\n"),
    "manifest line too long": ({}, b"file " + b"y" * 1030 + b"\n"),
}


@needs_redis
@pytest.mark.parametrize("fix", [False, True], ids=["check", "fix"])
@pytest.mark.parametrize("case", MULTI_PART_CASES)
def test_check_aof_multi_part_matches_redis_check_aof(case: str, fix: bool, tmp_path) -> None:
    files, manifest = MULTI_PART_CASES[case]
    theirs = multi_part(str(tmp_path / "theirs"), files, manifest)
    mine = multi_part(str(tmp_path / "ours"), files, manifest)
    flags = ["--fix"] if fix else []
    code, lines = redis_check_aof(*flags, theirs)
    assert ours(*flags, mine) == (code, [line.replace(str(tmp_path / "theirs"),
                                                      str(tmp_path / "ours")) for line in lines])
    for name in files:
        assert read(os.path.join(os.path.dirname(mine), name)) == read(
            os.path.join(os.path.dirname(theirs), name))


TIMESTAMPED = b"#TS:100\r\n" + P + b"#TS:200\r\n" + P + b"#TS:300\r\n" + P


@needs_redis
@pytest.mark.parametrize("args", [
    ["--truncate-to-timestamp", "250", "{single}"], ["--truncate-to-timestamp", "50", "{single}"],
    ["--truncate-to-timestamp", "999", "{single}"], ["--truncate-to-timestamp", "1x", "{single}"],
    ["--truncate-to-timestamp", "150", "{manifest}"], ["--fox", "{single}"], [],
    ["a", "b", "c", "d"]])
def test_check_aof_command_line_matches_redis_check_aof(args: list[str], tmp_path) -> None:
    def arguments(root: str) -> list[str]:
        manifest = multi_part(root, {"a.aof.1.incr.aof": TIMESTAMPED, "a.aof.2.incr.aof": P},
                              b"file a.aof.1.incr.aof seq 1 type i\n"
                              b"file a.aof.2.incr.aof seq 2 type i\n")
        write(os.path.join(root, "single.aof"), TIMESTAMPED)
        return [a.format(manifest=manifest, single=os.path.join(root, "single.aof"))
                for a in args]

    theirs, mine = str(tmp_path / "theirs"), str(tmp_path / "ours")
    code, lines = redis_check_aof(*arguments(theirs))
    assert ours(*arguments(mine)) == (code, [line.replace(theirs, mine) for line in lines])
    for name in ("single.aof", "a.aof.1.incr.aof"):
        assert read(os.path.join(mine, name)) == read(os.path.join(theirs, name))


@needs_redis
def test_check_aof_rdb_base_matches_redis_check_aof(tmp_path) -> None:
    """Needs valkdb.persistence.rdb.check_rdb (written alongside this module)."""
    pytest.importorskip("valkdb.persistence.rdb")
    server = start_redis("--appendonly", "yes")
    try:
        client = redis.Redis(port=server.port, socket_timeout=10)
        client.set("k", "v")
        client.bgrewriteaof()
        deadline = time.monotonic() + 10
        while client.info("persistence")["aof_rewrite_in_progress"] or not client.info(
                "persistence")["aof_rewrites"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        client.set("after", "1")
        client.close()
    finally:
        server.stop()
    source = os.path.join(server.cwd, "appendonlydir")
    for copy in ("theirs", "ours"):
        shutil.copytree(source, tmp_path / copy)
    base = Manifest.parse(read(str(tmp_path / "ours" / "appendonly.aof.manifest"))).base
    assert base is not None
    with open(tmp_path / "ours" / base.name, "ab") as f:  # an old-style preamble: RDB + tail
        f.write(P)
    with open(tmp_path / "theirs" / base.name, "ab") as f:
        f.write(P)
    code, lines = redis_check_aof(str(tmp_path / "theirs" / "appendonly.aof.manifest"))
    assert code == 0 and "RDB preamble is OK, proceeding with AOF tail..." in lines
    assert ours(str(tmp_path / "ours" / "appendonly.aof.manifest")) == (code, lines)
