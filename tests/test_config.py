"""Unit tests of valkdb/config/: value kinds, special settings, aliases, files, listen addresses,
REWRITE.

Where Redis's answer is not obvious (how `save` lines add up, how client-output-buffer-limit
lines merge, how it spells them back), the same file is loaded by a real redis-server and
compared through CONFIG GET; tests/compat/test_config_diff.py compares every setting.
"""

from __future__ import annotations

import os

import pytest
import redis

from tests.support import ServerProcess, free_port, redis_server_binary
from valkdb.config import BY_NAME, SETTINGS, Config, ConfigError, ConfigFileError, parse_memory
from valkdb.config.parsing import format_double, format_memory, quoted, string2d, strtoll


@pytest.mark.parametrize(("text", "expected"), [
    ("1gb", 1024**3), ("1GB", 1024**3), ("512mb", 512 * 1024**2), ("100k", 100_000),
    ("100kb", 102_400), ("42", 42), ("3g", 3 * 1000**3), ("7b", 7), ("05", 5),
    # Redis's memtoull: no digits is 0, and an overflow wraps around
    ("", 0), ("mb", 0), ("99999999999999999999", 2**64 - 1),
    ("99999999999999999999kb", 2**64 - 1024),
])
def test_memory_units(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["1.5gb", "10xb", "1 gb x", "-1", "+5", " 5", "5%"])
def test_memory_rejects_garbage(text):
    with pytest.raises(ConfigError, match="memory value"):
        parse_memory(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("12", (12, "", False)), (" +7x", (7, "x", False)), ("-3", (-3, "", False)),
    ("", (0, "", False)), ("+", (0, "+", False)), ("x1", (0, "x1", False)),
    ("99999999999999999999", (2**63 - 1, "", True)),
])
def test_strtoll(text, expected):
    assert strtoll(text) == expected


def test_doubles_and_quoting():
    assert [string2d(t) for t in ("99.9", "1e2", "0x10", " 1", "nan", "1e999", "1e-999", "")] == [
        99.9, 100.0, 16.0, None, None, None, None, None]
    assert [format_double(v) for v in (50.0, 99.9, 99.99)] == ["50", "99.9", "99.99"]
    assert [format_memory(v) for v in (0, 1024, 3 * 1024**2, 1025, 2**30)] == [
        "0", "1kb", "3mb", "1025", "1gb"]
    assert quoted('a b"c\\\n\x01é') == '"a b\\"c\\\\\\n\\x01\\xc3\\xa9"'


def test_bool_yes_no():
    config = Config()
    config.set("protected-mode", "NO")
    assert config.protected_mode is False
    config.set("protected-mode", "yes")
    assert config.get("protected-mode") == "yes"
    with pytest.raises(ConfigError, match="'yes' or 'no'"):
        config.set("protected-mode", "true")


def test_enum_and_range():
    config = Config()
    config.set("maxmemory-policy", "ALLKEYS-LRU")
    assert config.maxmemory_policy == "allkeys-lru"
    with pytest.raises(ConfigError, match="one of the following: volatile-lru, "):
        config.set("maxmemory-policy", "lru")
    with pytest.raises(ConfigError, match="between 1 and 10 inclusive"):
        config.set("active-expire-effort", "11")
    with pytest.raises(ConfigError, match="integer"):
        config.set("timeout", "ten")
    config.set("oom-score-adj", "relative")  # a synonym: Redis answers with the first name
    assert config.get("oom-score-adj") == "yes"


def test_numbers_unsigned_percent_octal():
    config = Config()
    with pytest.raises(ConfigError, match="^argument must be between 1 and 4294967295 inclusive$"):
        config.set("maxclients", "-1")
    config.set("maxmemory", "18446744073709551615")
    assert config.get("maxmemory") == "18446744073709551615"
    config.set("maxmemory-clients", "5%")
    assert (config.maxmemory_clients, config.get("maxmemory-clients")) == (-5, "5%")
    for text, reason in (("101%", "percentage argument must be less or equal to 100"),
                         ("-5%", "argument must be a memory or percent value"),
                         ("5", None)):
        if reason:
            with pytest.raises(ConfigError, match=f"^{reason}$"):
                config.set("maxmemory-clients", text)
        else:
            config.set("maxmemory-clients", text)
    config.set("unixsocketperm", "700", startup=True)
    assert (config.unixsocketperm, config.get("unixsocketperm")) == (0o700, "700")
    with pytest.raises(ConfigError, match="octal number"):
        config.set("unixsocketperm", "8", startup=True)
    with pytest.raises(ConfigError, match="between 0 and 777 inclusive"):
        config.set("unixsocketperm", "1000", startup=True)
    config.set("hz", "100000")
    assert config.hz == 500  # accepted, then kept within 1..500


def test_flags():
    config = Config()
    config.set("shutdown-on-sigint", "NOW save")
    assert (config.shutdown_on_sigint, config.get("shutdown-on-sigint")) == (
        ("save", "now"), "save now")
    config.set("shutdown-on-sigint", "default")
    assert config.get("shutdown-on-sigint") == "default"
    with pytest.raises(ConfigError, match="SAVE and NOSAVE"):
        config.set("shutdown-on-sigint", "save nosave")
    for bad in ("", "save  now", "later"):  # CONFIG SET splits at each single space
        with pytest.raises(ConfigError, match="one of the following: default, save, nosave"):
            config.set("shutdown-on-sigint", bad)


def test_immutable_and_protected():
    config = Config()
    with pytest.raises(ConfigError, match="immutable"):
        config.set("tcp-backlog", "7")
    config.set("tcp-backlog", "7", startup=True)
    assert config.tcp_backlog == 7
    with pytest.raises(ConfigError, match="protected"):
        config.set("dbfilename", "x.rdb")
    config.set("enable-protected-configs", "local", startup=True)
    assert config.refusal(BY_NAME["dbfilename"], local=False) == "can't set protected config"
    config.set("dbfilename", "x.rdb", local=True)
    assert config.dbfilename == "x.rdb"


def test_every_default_parses_and_formats_back():
    config = Config()
    for setting in SETTINGS:
        if setting.name != "replicaof":  # CONFIG GET's "" is not a value; "no one" is
            assert setting.parse(config.get(setting.name)) == getattr(config, setting.attr)


def test_aliases_are_the_same_setting():
    config = Config()
    aliases = [s.alias for s in SETTINGS if s.alias]
    assert len(aliases) == len(set(aliases)) == 19
    assert all(BY_NAME[s.alias] is s for s in SETTINGS if s.alias)
    config.set("hash-max-ziplist-entries", "3")
    assert config.hash_max_listpack_entries == 3
    assert config.get("hash-max-ziplist-entries") == config.get("hash-max-listpack-entries") == "3"
    config.set("slaveof", "127.0.0.1 6380", startup=True)
    assert (config.replicaof, config.get("replicaof")) == (("127.0.0.1", 6380), "127.0.0.1 6380")
    with pytest.raises(ConfigError, match="immutable"):
        config.set("SLAVEOF", "no one")


@pytest.mark.parametrize(("text", "reason"), [
    ("900", "Invalid save parameters"), ("0 1", "Invalid save parameters"),
    ("900 -1", "Invalid save parameters"), ("a b", "Invalid save parameters"),
    ("900  1", "Invalid save parameters"),  # two spaces: an empty word, so three words
])
def test_save_rejects(text, reason):
    with pytest.raises(ConfigError, match=reason):
        Config().set("save", text)


def test_save_set_replaces_and_empty_clears():
    config = Config()
    config.set("save", "900 1 300 10")
    assert config.save == [(900, 1), (300, 10)]
    config.set("save", "60 5")
    assert config.save == [(60, 5)]
    config.set("save", "900  1 5")  # the empty word is strtoll's 0 changes, as in Redis
    assert config.save == [(900, 0), (1, 5)]
    config.set("save", "")
    assert config.get("save") == ""


def test_output_limit_parsing_and_formatting():
    config = Config()
    config.set("client-output-buffer-limit", "pubsub 64mb 16mb 90 slave 1gb 512mb 0")
    assert config.client_output_buffer_limit["pubsub"] == (64 * 1024**2, 16 * 1024**2, 90)
    assert config.get("client-output-buffer-limit") == (
        "normal 0 0 0 slave 1073741824 536870912 0 pubsub 67108864 16777216 90")
    config.set("client-output-buffer-limit", "")  # no classes named: nothing changes
    for bad in ("normal 0 0", "nobody 1 1 1", "master 1 1 1", "normal x 0 0", "normal 1 1 -1"):
        with pytest.raises(ConfigError):
            config.set("client-output-buffer-limit", bad)


def test_other_specials():
    config = Config()
    config.set("notify-keyspace-events", "KEA")
    assert config.get("notify-keyspace-events") == "AKE"
    assert config.notify_keyspace_events == 0b10011111111111  # every class but m and n, K, E
    config.set("notify-keyspace-events", "AnKm")  # n is not in A, and A hides it
    assert config.get("notify-keyspace-events") == "AKm"
    with pytest.raises(ConfigError, match=r"Use 'Ag\$lshzxeKEtmdn'"):
        config.set("notify-keyspace-events", "KEZ")
    config.set("latency-tracking-info-percentiles", "50 99.99 100")
    assert config.get("latency-tracking-info-percentiles") == "50 99.99 100"
    for bad, reason in (("101", "between"), ("abc", "Invalid"), ("50  99", "Invalid")):
        with pytest.raises(ConfigError, match=reason):
            config.set("latency-tracking-info-percentiles", bad)
    with pytest.raises(ConfigError, match="Too many bind addresses"):
        config.set("bind", " ".join(["127.0.0.1"] * 17))
    with pytest.raises(ConfigError, match="Invalid master port"):
        config.set("replicaof", "localhost 70000", startup=True)
    with pytest.raises(ConfigError, match="wrong number of arguments"):
        config.set("oom-score-adj-values", "1 2")
    with pytest.raises(ConfigError, match="between -2000 and 2000"):
        config.set("oom-score-adj-values", "0 0 2001")


@pytest.mark.parametrize(("name", "value", "reason"), [
    ("dbfilename", "a/b", "dbfilename can't be a path, just a filename"),
    ("proc-title-template", "{title}", "template format is invalid"),
    ("proc-title-template", "{title", "template format is invalid"),
    ("proc-title-template", "{nosuch} x", "template format is invalid"),
    ("cluster-announce-hostname", "a_b", "alphanumeric characters, hyphens or dots"),
    ("activedefrag", "yes", "Active defragmentation cannot be enabled"),
])
def test_validators(name, value, reason):
    config = Config()
    config.set("enable-protected-configs", "yes", startup=True)
    with pytest.raises(ConfigError, match=reason):
        config.set(name, value)


def test_title_templates_that_expand_to_something():
    config = Config()
    for template in ("{port}", "{{title}", "x {title}", "{listen-addr} {server-mode}"):
        config.set("proc-title-template", template)


def test_listen_addresses():
    config = Config()
    config.set("port", "7000", startup=True)
    config.set("bind", "127.0.0.1 -::1 10.0.0.1:7001 [::1]:7002 -[fe80::1]:7003 *",
               startup=True)
    assert config.listen_addresses() == [
        ("127.0.0.1", 7000, False), ("::1", 7000, True), ("10.0.0.1", 7001, False),
        ("::1", 7002, False), ("fe80::1", 7003, True), ("0.0.0.0", 7000, False)]


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_file_syntax(tmp_path):
    included = _write(tmp_path / "inc.conf", "timeout 5\nmaxclients 50\n")
    (tmp_path / "d").mkdir()
    _write(tmp_path / "d" / "a.conf", "databases 3\n")
    _write(tmp_path / "d" / "b.conf", "databases 4\n")
    main = _write(tmp_path / "main.conf", (
        "# a comment\n\n   # indented comment\n"
        f"include {included}\n"
        f"include {tmp_path}/d/*.conf\n"  # a pattern: every match, in order
        f"include {tmp_path}/none/*.conf\n"  # a pattern matching nothing is fine
        "maxclients 100\n"
        'requirepass "with space \\"q\\""\n'
        "bind 127.0.0.1 -::1\n"
        'save "900 1"\n'  # one word holding several: split again
        "port 7000\nport 7001\n"
        "LogLevel warning\n"
        "slaveof 10.0.0.1 6379\nhash-max-ziplist-entries 7\n"
        "list-max-ziplist-entries 5\nlua-replicate-commands yes\n"))  # ignored, as in Redis
    config = Config()
    config.load_file(main)
    assert (config.timeout, config.maxclients, config.port, config.databases) == (5, 100, 7001, 4)
    assert config.requirepass == 'with space "q"'
    assert config.bind == ["127.0.0.1", "-::1"]
    assert config.save == [(900, 1)]
    assert config.loglevel == "warning"
    assert (config.replicaof, config.hash_max_listpack_entries) == (("10.0.0.1", 6379), 7)
    assert config.path == main  # not the included file


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("port 7000\nfoo bar\n", 2, "Bad directive or wrong number of arguments"),
    ("port 1 2\n", 1, "wrong number of arguments"),
    ("port\n", 1, "wrong number of arguments"),
    ("include\n", 1, "Bad directive or wrong number of arguments"),
    ("list-max-ziplist-entries 5 6\n", 1, "Bad directive or wrong number of arguments"),
    ('save "900 1\n', 1, "Unbalanced quotes in configuration line"),
    ("maxclients abc\n", 1, "argument couldn't be parsed into an integer"),
    ("notify-keyspace-events K E\n", 1, "wrong number of arguments"),
    ("timeout 1\nuser alice on >pw +@all\n", 2, "Error in user declaration 'alice'"),
    ("user default on >pw ~* &* +@all\n", 1, "Error in user declaration '>pw'"),
])
def test_file_errors_say_where(tmp_path, text, line, reason):
    path = _write(tmp_path / "bad.conf", text)
    with pytest.raises(ConfigFileError) as info:
        Config().load_file(path)
    assert info.value.args[0].startswith(reason)
    assert info.value.where == f"at line {line}"
    assert f">>> '{text.splitlines()[line - 1]}'" in info.value.fatal_text("x")


def test_user_lines_requirepass_can_express(tmp_path):
    """What Redis's CONFIG REWRITE writes for the default user loads, in either order."""
    import hashlib  # noqa: PLC0415

    digest = hashlib.sha256(b"x y").hexdigest()
    path = _write(tmp_path / "u.conf", f"user default on #{digest} ~* &* +@all\n"
                                       'requirepass "x y"\nuser default on nopass ~* &* +@all\n')
    config = Config()
    config.load_file(path)
    assert config.requirepass == "x y"


needs_redis = pytest.mark.skipif(redis_server_binary() is None, reason="no redis-server")


@needs_redis
def test_accumulating_lines_match_redis(tmp_path):
    """`save` lines add up (the first replaces the defaults); buffer-limit lines merge."""
    body = ("save 900 1\nsave 300 10\n"
            "client-output-buffer-limit normal 1mb 2mb 3\n"
            "client-output-buffer-limit pubsub 4mb 5mb 6\n"
            "maxclients 77\ntimeout 9\n")
    path = _write(tmp_path / "acc.conf", body)
    config = Config()
    config.load_file(path)
    port = free_port()  # redis-server wants the file first, so not start_redis()
    server = ServerProcess([redis_server_binary(), path, "--port", str(port), "--bind",
                            "127.0.0.1", "--daemonize", "no"], port, str(tmp_path))
    try:
        ref = redis.Redis(port=server.port, socket_timeout=5, decode_responses=True)
        for name in ("save", "client-output-buffer-limit", "maxclients", "timeout"):
            assert config.get(name) == ref.config_get(name)[name], name
    finally:
        server.stop()


def test_save_empty_line_resets_then_adds(tmp_path):
    path = _write(tmp_path / "s.conf", "save 900 1\nsave \"\"\nsave 300 10\n")
    config = Config()
    config.load_file(path)
    assert config.save == [(300, 10)]


def _non_default_config(tmp_path):
    path = _write(tmp_path / "rw.conf",
                  "# keep me\nport 7005\ntimeout 1\n\n\ntimeout 2\nslave-read-only yes\n"
                  "list-max-ziplist-entries 5\n")
    config = Config()
    config.load_file(path)
    config.set("timeout", "30")
    config.set("requirepass", 'p a"s\\s')
    config.set("save", "")
    config.set("maxmemory", "100mb")
    config.set("maxmemory-clients", "5%")
    config.set("client-output-buffer-limit", "pubsub 1mb 1mb 1")
    config.set("replica-read-only", "no")
    config.set("notify-keyspace-events", "Kx")
    config.set("bind", "127.0.0.1")
    return config, path


def test_rewrite_loads_back_the_same_values(tmp_path):
    config, path = _non_default_config(tmp_path)
    config.rewrite()
    again = Config()
    again.load_file(path)
    for setting in SETTINGS:
        if setting.name != "dir":  # written as the absolute path
            assert again.get(setting.name) == config.get(setting.name), setting.name
    assert again.dir == os.path.abspath(config.dir)


def test_rewrite_form(tmp_path):
    config, path = _non_default_config(tmp_path)
    config.rewrite()
    lines = open(path).read().split("\n")
    assert lines[:6] == ["# keep me", "port 7005", "timeout 30", "", "replica-read-only no",
                         "# ??? list-max-ziplist-entries 5"]
    generated = lines[lines.index("# Generated by CONFIG REWRITE") + 1:]
    assert lines.count("# Generated by CONFIG REWRITE") == 1
    for line in ('requirepass "p a\\"s\\\\s"', "maxmemory 100mb", "maxmemory-clients 5%",
                 "client-output-buffer-limit pubsub 1mb 1mb 1", 'notify-keyspace-events "xK"',
                 "bind 127.0.0.1", 'save ""', f'dir "{os.path.abspath(".")}"',
                 "latency-tracking-info-percentiles 50 99 99.9"):
        assert line in generated, line
    assert any(line.startswith("user default on #") for line in generated)
    assert not any(line.startswith(("timeout", "hash-", "dbfilename")) for line in generated)


def test_rewrite_without_file_fails():
    with pytest.raises(ConfigError):
        Config().rewrite()


def test_unknown_setting():
    with pytest.raises(ConfigError):
        Config().set("no-such-setting", "1")
    assert "port" in BY_NAME
