"""Unit tests of valkdb/config.py: value parsing, redis.conf files, listen addresses, REWRITE.

Where Redis's answer is not obvious (how `save` lines add up, how client-output-buffer-limit
lines merge, how it spells them back), the same file is loaded by a real redis-server and
compared through CONFIG GET.
"""

from __future__ import annotations

import pytest
import redis

from tests.support import ServerProcess, free_port, redis_server_binary
from valkdb.config import BY_NAME, SETTINGS, Config, ConfigError, ConfigFileError, parse_memory


@pytest.mark.parametrize(("text", "expected"), [
    ("1gb", 1024**3), ("1GB", 1024**3), ("512mb", 512 * 1024**2), ("100k", 100_000),
    ("100kb", 102_400), ("42", 42), ("3g", 3 * 1000**3), ("7b", 7),
])
def test_memory_units(text, expected):
    assert parse_memory(text) == expected


@pytest.mark.parametrize("text", ["", "1.5gb", "10xb", "mb", "1 gb x"])
def test_memory_rejects_garbage(text):
    with pytest.raises(ConfigError, match="memory value"):
        parse_memory(text)


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
    with pytest.raises(ConfigError, match="one of the following"):
        config.set("maxmemory-policy", "lru")
    with pytest.raises(ConfigError, match="between 1 and 10 inclusive"):
        config.set("active-expire-effort", "11")
    with pytest.raises(ConfigError, match="integer"):
        config.set("timeout", "ten")


def test_immutable_only_at_startup():
    config = Config()
    with pytest.raises(ConfigError, match="immutable"):
        config.set("port", "7000")
    config.set("port", "7000", startup=True)
    assert config.port == 7000


def test_every_default_parses_and_formats_back():
    config = Config()
    for setting in SETTINGS:
        assert setting.parse(config.get(setting.name)) == getattr(config, setting.attr)


@pytest.mark.parametrize("text", ["900", "900 1 300", "0 1", "900 -1", "a b"])
def test_save_rejects(text):
    with pytest.raises(ConfigError, match="Invalid save parameters"):
        Config().set("save", text)


def test_save_set_replaces_and_empty_clears():
    config = Config()
    config.set("save", "900 1 300 10")
    assert config.save == [(900, 1), (300, 10)]
    config.set("save", "60 5")
    assert config.save == [(60, 5)]
    config.set("save", "")
    assert config.get("save") == ""


def test_output_limit_parsing_and_formatting():
    config = Config()
    config.set("client-output-buffer-limit", "pubsub 64mb 16mb 90 slave 1gb 512mb 0")
    assert config.client_output_buffer_limit["pubsub"] == (64 * 1024**2, 16 * 1024**2, 90)
    assert config.get("client-output-buffer-limit") == (
        "normal 0 0 0 slave 1073741824 536870912 0 pubsub 67108864 16777216 90")
    for bad in ("normal 0 0", "nobody 1 1 1", "normal x 0 0", "normal 1 1 -1"):
        with pytest.raises(ConfigError):
            config.set("client-output-buffer-limit", bad)


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
    main = _write(tmp_path / "main.conf", (
        "# a comment\n\n   # indented comment\n"
        f"include {included}\n"
        "maxclients 100\n"
        'requirepass "with space \\"q\\""\n'
        "bind 127.0.0.1 -::1\n"
        "port 7000\nport 7001\n"
        "LogLevel warning\n"))
    config = Config()
    config.load_file(main)
    assert (config.timeout, config.maxclients, config.port) == (5, 100, 7001)
    assert config.requirepass == 'with space "q"'
    assert config.bind == ["127.0.0.1", "-::1"]
    assert config.loglevel == "warning"
    assert config.path == main  # not the included file


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("port 7000\nfoo bar\n", 2, "Bad directive or wrong number of arguments"),
    ("port 1 2\n", 1, "wrong number of arguments"),
    ("port\n", 1, "wrong number of arguments"),
    ("include\n", 1, "Bad directive or wrong number of arguments"),
    ('save "900 1\n', 1, "Unbalanced quotes in configuration line"),
    ("maxclients abc\n", 1, "argument couldn't be parsed into an integer"),
])
def test_file_errors_say_where(tmp_path, text, line, reason):
    path = _write(tmp_path / "bad.conf", text)
    with pytest.raises(ConfigFileError) as info:
        Config().load_file(path)
    assert info.value.args[0] == reason
    assert info.value.where == f"at line {line}"
    assert f">>> '{text.splitlines()[line - 1]}'" in info.value.fatal_text("x")


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
    included = _write(tmp_path / "inc.conf", "hz 20\n")
    path = _write(tmp_path / "rw.conf",
                  f"# keep me\ninclude {included}\nport 7005\ntimeout 1\ntimeout 2\n")
    config = Config()
    config.load_file(path)
    config.set("timeout", "30")
    config.set("hz", "10")  # back to the default, but the include says 20
    config.set("requirepass", 'p a"s\\s')
    config.set("save", "")
    config.set("maxmemory", "100mb")
    config.set("client-output-buffer-limit", "pubsub 1mb 1mb 1")
    return config, path


def test_rewrite_loads_back_the_same_values(tmp_path):
    config, path = _non_default_config(tmp_path)
    config.rewrite()
    text = open(path).read()
    assert text.startswith("# keep me\ninclude ")
    assert text.count("timeout") == 1
    again = Config()
    again.load_file(path)
    for setting in SETTINGS:
        assert again.get(setting.name) == config.get(setting.name), setting.name


def test_rewrite_without_file_fails():
    with pytest.raises(ConfigError):
        Config().rewrite()


def test_unknown_setting():
    with pytest.raises(ConfigError):
        Config().set("no-such-setting", "1")
    assert "port" in BY_NAME
