"""The `valkdb` launcher: options -> Config, then logging, daemonize, pidfile, signals, serve.

Two styles work, so that both people and tools that launch redis-server can start valkdb:
  gunicorn style:     valkdb -b 127.0.0.1:7000 -b [::1]:7000 -c valkdb.conf -D --log-level debug
  redis-server style: valkdb /path/to/redis.conf --port 7000 --save 900 1 --requirepass x
Every setting in config.SETTINGS is an option `--<name> VALUE`; as with redis-server, the words
after an option up to the next option form its value (`--save 900 1`).

Signals (as gunicorn queues them): TERM and INT shut down gracefully (a second INT exits at
once), HUP reloads the config file, USR1 reopens the log file.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time

import click

from valkdb import REDIS_VERSION, __version__
from valkdb.config import SETTINGS, Config, ConfigError

# Short and gunicorn-style spellings of some settings.
_ALIASES = {"bind": ["-b"], "loglevel": ["--log-level"], "daemonize": ["-D"]}
_LEVELS = {"debug": (logging.DEBUG, "."), "verbose": (15, "-"), "notice": (logging.INFO, "*"),
           "warning": (logging.WARNING, "#")}
_MARKS = {level: mark for level, mark in _LEVELS.values()}


class RedisLogFormatter(logging.Formatter):
    """Redis's log line: `pid:M 26 Nov 2026 20:18:09.123 * message`."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(record.created))
        mark = _MARKS.get(record.levelno, "#" if record.levelno > logging.WARNING else "*")
        return f"{record.process}:M {stamp}.{int(record.msecs):03d} {mark} {record.getMessage()}"


def _option_names() -> set[str]:
    names = {"-c", "--config", "--check-config", "--version", "--help"}
    for setting in SETTINGS:
        names.add("--" + setting.name)
        names.update(_ALIASES.get(setting.name, []))
    return names


def join_multiword_values(args: list[str]) -> list[str]:
    """redis-server style: `--save 900 1 300 10` -> `--save '900 1 300 10'`."""
    known = _option_names()
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        out.append(arg)
        i += 1
        if arg.startswith("--") and "=" not in arg and arg in known and arg not in (
                "--check-config", "--version", "--help"):
            words = []
            while i < len(args) and args[i] not in known:
                words.append(args[i])
                i += 1
            if words or arg != "--daemonize":
                out.append(" ".join(words))
    return out


def _setting_options(func):  # type: ignore[no-untyped-def]
    """One click option per setting, generated from the table."""
    for setting in reversed(SETTINGS):
        names = ["--" + setting.name, *_ALIASES.get(setting.name, [])]
        if setting.name == "daemonize":
            func = click.option("--daemonize", "-D", "daemonize", is_flag=False,
                                flag_value="yes", default=None, help=setting.help)(func)
        elif setting.name == "bind":
            func = click.option(*names, "bind", multiple=True,
                                help=setting.help + " Repeatable.")(func)
        else:
            func = click.option(*names, setting.attr, default=None,
                                metavar=setting.kind.upper(),
                                help=f"{setting.help} [default: {setting.default or 'none'}]")(func)
    return func


class RedisStyleCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, join_multiword_values(args))


@click.command(cls=RedisStyleCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("config_file", required=False, type=click.Path(dir_okay=False))
@click.option("-c", "--config", "config_option", type=click.Path(dir_okay=False),
              help="Config file in redis.conf syntax.")
@click.option("--check-config", is_flag=True, help="Check the configuration and exit.")
@click.version_option(__version__, message=f"valkdb %(version)s (redis {REDIS_VERSION} compatible)")
@_setting_options
def main(config_file: str | None, config_option: str | None, check_config: bool,
         **values: object) -> None:
    """valkdb: a Redis 7.0-compatible server. Options override the config file."""
    config = Config()
    try:
        path = config_option or config_file
        if path:
            config.load_file(path)
        for setting in SETTINGS:
            value = values.get(setting.attr)
            if value is None or value == ():
                continue
            if setting.name == "bind":
                value = " ".join(str(v) for v in value)  # type: ignore[attr-defined]
            config.set(setting.name, str(value), startup=True)
    except (ConfigError, OSError) as exc:
        click.echo(f"\n*** FATAL CONFIG FILE ERROR (valkdb {__version__}) ***\n{exc}", err=True)
        sys.exit(1)
    if check_config:
        click.echo("Config OK")
        return
    sys.exit(run(config))


def setup_logging(config: Config) -> logging.Logger:
    log = logging.getLogger("valkdb")
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    output: logging.Handler
    if config.logfile:
        output = logging.FileHandler(config.logfile)
    elif config.daemonize:
        output = logging.NullHandler()
    else:
        output = logging.StreamHandler(sys.stdout)
    output.setFormatter(RedisLogFormatter())
    log.addHandler(output)
    log.setLevel(_LEVELS[config.loglevel][0])
    log.propagate = False
    return log


def _daemonize() -> None:
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)


def run(config: Config) -> int:
    """Start the server with this config; return its exit status."""
    if config.daemonize:
        _daemonize()  # before gevent's hub exists, so the child starts clean
    log = setup_logging(config)
    import gevent  # noqa: PLC0415  (after a daemonizing fork)

    from valkdb.server import Server  # noqa: PLC0415

    server = Server(config, log)
    log.info("valkdb %s (Redis %s compatible) starting, pid=%d", __version__, REDIS_VERSION,
             os.getpid())
    if config.pidfile:
        with open(config.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")

    def on_term() -> None:
        gevent.spawn(server.shutdown, "Received SIGTERM scheduling shutdown...")

    def on_int() -> None:
        if server.shutting_down:
            log.warning("You insist... exiting now.")
            os._exit(1)
        gevent.spawn(server.shutdown, "Received SIGINT scheduling shutdown...")

    def on_hup() -> None:
        if not config.path:
            log.warning("Received SIGHUP, but there is no config file to reload")
            return
        fresh = Config()
        try:
            fresh.load_file(config.path)
        except (ConfigError, OSError) as exc:
            log.warning("Received SIGHUP; config reload failed, keeping the old one: %s", exc)
            return
        for setting in SETTINGS:
            if setting.mutable:
                setattr(config, setting.attr, getattr(fresh, setting.attr))
        setup_logging(config)
        log.warning("Received SIGHUP, configuration reloaded from %s", config.path)

    def on_usr1() -> None:
        setup_logging(config)
        log.info("Received SIGUSR1, log file reopened")

    for signum, handler in ((signal.SIGTERM, on_term), (signal.SIGINT, on_int),
                            (signal.SIGHUP, on_hup), (signal.SIGUSR1, on_usr1)):
        gevent.signal_handler(signum, handler)
    try:
        return server.serve_forever()
    except OSError as exc:
        log.warning("Could not create server TCP listening socket: %s", exc)
        return 1
