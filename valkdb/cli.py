"""The `valkdb` launcher: options -> Config, then logging, daemonize, pidfile, signals, serve.

Two styles work, so that both people and tools that launch redis-server can start valkdb:
  gunicorn style:     valkdb -b 127.0.0.1:7000 -b [::1]:7000 -c valkdb.conf -D --log-level debug
  redis-server style: valkdb /path/to/redis.conf --port 7000 --save 900 1 --requirepass x
Every setting in config.SETTINGS is an option `--<name> VALUE` (Redis's older names too:
`--slaveof`); as with redis-server, the words after an option up to the next option form its
value (`--save 900 1`).

Signals (as gunicorn queues them): TERM and INT shut down gracefully (a second INT exits at
once), HUP reloads the config file, USR1 reopens the log file.

Two subcommands stand in for Redis's separate tools: `valkdb check-aof [--fix] FILE` (like
redis-check-aof) and `valkdb check-rdb FILE` (like redis-check-rdb).
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import sys
import time
from collections.abc import Callable
from typing import NoReturn

import click

from valkdb import REDIS_VERSION, __version__
from valkdb.config import BY_NAME, SETTINGS, Config, ConfigError, ConfigFileError, Setting

# Short and gunicorn-style spellings of some settings.
_ALIASES = {"bind": ["-b"], "loglevel": ["--log-level"], "logfile": ["--log-file"]}
_LEVELS = {"debug": (logging.DEBUG, "."), "verbose": (15, "-"), "notice": (logging.INFO, "*"),
           "warning": (logging.WARNING, "#")}
_MARKS = {level: mark for level, mark in _LEVELS.values()}
# The launcher's own options (not settings); the ones after the first take no value.
_OWN_OPTIONS = ("-c", "--config", "--check-config", "--version", "-v", "--help", "-h")
_SHORT_OPTIONS = {"-b", "-c", "-D", "-h", "-v"}


class RedisLogFormatter(logging.Formatter):
    """Redis's log line: `pid:M 26 Nov 2026 20:18:09.123 * message` (C: a forked child)."""

    def __init__(self) -> None:
        super().__init__()
        self.server_pid = os.getpid()

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(record.created))
        mark = _MARKS.get(record.levelno, "#" if record.levelno > logging.WARNING else "*")
        role = "M" if record.process == self.server_pid else "C"
        return (f"{record.process}:{role} {stamp}.{int(record.msecs):03d} {mark} "
                f"{record.getMessage()}")


def _setting_for(option: str) -> Setting | None:
    setting = BY_NAME.get(option[2:].lower())
    if setting is not None:
        return setting
    for name, spellings in _ALIASES.items():
        if option.lower() in spellings:
            return BY_NAME[name]
    return None


def redis_style_args(args: list[str]) -> list[str]:
    """Rewrite redis-server style arguments into one `--name VALUE` pair per option.

    As in redis-server's main(): the word after `--name` is always its value; more words join
    it until the next word starting with `--` (or one of the short options), so
    `--save 900 1 300 10` is one value; `--save` with no words (or before another `--option`)
    means `--save ""`. `-D` and a bare `--daemonize` mean `--daemonize yes`. An unknown
    `--name` or a wrong number of words raises ConfigFileError, Redis's fatal config error.
    """
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "-D":
            out += ["--daemonize", "yes"]
            continue
        if not arg.startswith("--") or "=" in arg or arg in _OWN_OPTIONS:
            out.append(arg)
            continue
        setting = _setting_for(arg)
        words: list[str] = []
        if i < len(args) and not _bare_flag(setting, args[i]):
            words.append(args[i])
            i += 1
            while i < len(args) and not (args[i].startswith("--") or args[i] in _SHORT_OPTIONS):
                words.append(args[i])
                i += 1
        if setting is not None and setting.name == "daemonize" and not words:
            words = ["yes"]
        line = " ".join([arg[2:], *(f'"{word}"' for word in words)])
        if setting is None:
            raise ConfigFileError("Bad directive or wrong number of arguments", line,
                                  "on the command line")
        if not setting.multi_arg and len(words) != 1:
            raise ConfigFileError("wrong number of arguments", line, "on the command line")
        out += ["--" + setting.name, " ".join(words)]
    return out


def _bare_flag(setting: Setting | None, following: str) -> bool:
    """`--save --port 1` means `--save ""`; `--daemonize -b x` means `--daemonize yes`."""
    if setting is None:
        return False
    if setting.name == "save":
        return following.startswith("--")
    if setting.name == "daemonize":
        return following.lower() not in ("yes", "no")
    return False


_METAVARS = {"bool": "yes|no", "int": "N", "memory": "BYTES", "percent": "BYTES|N%",
             "octal": "OCTAL", "str": "TEXT", "flags": "FLAGS", "special": "VALUE"}


def _setting_options(func):  # type: ignore[no-untyped-def]
    """One click option per setting, generated from the table; every one may repeat."""
    for setting in reversed(SETTINGS):
        names = ["--" + setting.name, *_ALIASES.get(setting.name, [])]
        if setting.name == "daemonize":
            names.append("-D")
        default = setting.default if setting.default != "" else "none"
        alias = f" Also --{setting.alias}." if setting.alias else ""
        metavar, choices = _METAVARS.get(setting.kind, ""), ""
        if setting.kind == "enum":  # the choices, as the metavar if they are short
            metavar = "|".join(setting.choices)
            if len(metavar) > 30:
                metavar, choices = "NAME", f" One of {', '.join(setting.choices)}."
        func = click.option(*names, setting.attr, multiple=True, metavar=metavar,
                            help=f"{setting.help}{choices}{alias} [default: {default}]")(func)
    return func


class RedisStyleCommand(click.Command):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            args = redis_style_args(args)
        except ConfigFileError as exc:
            _fatal(exc.fatal_text(__version__))
        return super().parse_args(ctx, args)


def _fatal(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def main() -> None:
    """The console script: a file-checking subcommand, or the server."""
    args = sys.argv[1:]
    if args and args[0] in _TOOLS:
        status, lines = _TOOLS[args[0]](args[1:])
        for line in lines:
            click.echo(line)
        sys.exit(status)
    serve.main(args=args, prog_name="valkdb")


def _check_rdb(args: list[str]) -> tuple[int, list[str]]:
    from valkdb.persistence.rdb import check_rdb  # noqa: PLC0415 (only this subcommand needs it)

    if len(args) != 1:
        return 1, ["Usage: valkdb check-rdb <rdb-file-name>"]
    ok, lines = check_rdb(args[0])
    return (0 if ok else 1), lines


def _check_aof(args: list[str]) -> tuple[int, list[str]]:
    from valkdb.persistence.aof import check_aof_main  # noqa: PLC0415

    return check_aof_main(args)


_TOOLS = {"check-aof": _check_aof, "check-rdb": _check_rdb}


@click.command(cls=RedisStyleCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("config_file", required=False, type=click.Path(dir_okay=False))
@click.option("-c", "--config", "config_option", type=click.Path(dir_okay=False),
              help="Config file in redis.conf syntax.")
@click.option("--check-config", is_flag=True, help="Check the configuration and exit.")
@click.version_option(__version__, "-v", "--version",
                      message=f"valkdb %(version)s (Redis server v={REDIS_VERSION} compatible)")
@_setting_options
def serve(config_file: str | None, config_option: str | None, check_config: bool,
          **values: tuple[str, ...]) -> None:
    """valkdb: a Redis 7.0-compatible server. Options override the config file.

    Every setting is also an option, redis-server style: `valkdb [redis.conf] --port 7000
    --save 900 1 300 10`. `valkdb check-aof [--fix] FILE` and `valkdb check-rdb FILE` check
    persistence files. "(compat)": valkdb accepts and reports the setting exactly as Redis 7.0
    does, but does not act on it (yet).
    """
    path = config_option or config_file
    overrides = []
    for setting in SETTINGS:
        given = values.get(setting.attr) or ()
        if setting.name == "bind" and given:
            given = (" ".join(given),)  # -b repeats add addresses, as in gunicorn
        overrides += [(setting.name, value) for value in given]
    try:
        config = load_config(path, overrides)
    except ConfigFileError as exc:
        _fatal(exc.fatal_text(__version__))
    except OSError as exc:
        _fatal(f"Fatal error, can't open config file '{exc.filename}': {exc.strerror}")
    if check_config:
        click.echo("Configuration OK")
        return
    sys.exit(run(config, lambda: load_config(path, overrides)))


def load_config(path: str | None, overrides: list[tuple[str, str]]) -> Config:
    """The config file (if any), then the command-line options on top, as redis-server does."""
    config = Config()
    if path:
        config.load_file(path)
    for name, value in overrides:
        try:
            config.set(name, value, startup=True)
        except ConfigError as exc:  # shown as redis-server shows it: each word quoted
            words = value.split(" ") if BY_NAME[name].multi_arg else [value]
            line = " ".join([name, *(f'"{word}"' for word in words)])
            raise ConfigFileError(exc.args[0], line, "on the command line") from None
    return config


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


def _raise_fd_limit(config: Config, log: logging.Logger) -> None:
    """Like Redis: room for maxclients sockets plus 32 for listeners, logs and files."""
    wanted = config.maxclients + 32
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        if new_soft < wanted:
            log.warning("You requested maxclients of %d requiring at least %d max file "
                        "descriptors, but the hard limit is %d.", config.maxclients, wanted, hard)


def run(config: Config, reload: Callable[[], Config] | None = None) -> int:
    """Start the server with this config; return its exit status.

    `reload` builds the config afresh (file plus command-line options) for SIGHUP.
    """
    if config.daemonize:
        _daemonize()  # before gevent's hub exists, so the child starts clean
    try:  # data files live in `dir`, as Redis chdirs there
        os.chdir(config.dir)
    except OSError as exc:
        click.echo(f"Can't chdir to '{config.dir}': {exc.strerror}", err=True)
        return 1
    config.set("dir", os.getcwd(), startup=True)
    log = setup_logging(config)
    import gevent  # noqa: PLC0415  (after a daemonizing fork)

    from valkdb.server import Server  # noqa: PLC0415

    _raise_fd_limit(config, log)
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
            server.remove_pidfile()
            os._exit(1)
        gevent.spawn(server.shutdown, "Received SIGINT scheduling shutdown...")

    def on_hup() -> None:
        if reload is None or not config.path:
            log.warning("Received SIGHUP, but there is no config file to reload")
            return
        try:
            fresh = reload()
        except (ConfigError, OSError) as exc:
            log.warning("Received SIGHUP; config reload failed, keeping the old one: %s", exc)
            return
        _apply_reload(config, fresh, log)
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
        log.warning("Failed listening, aborting.")
        return 1
    finally:
        server.remove_pidfile()


# Mutable settings a reload does not change: the listeners, the AOF, the working directory.
_NEEDS_RESTART = {"port", "bind", "appendonly", "dir"}


def _apply_reload(config: Config, fresh: Config, log: logging.Logger) -> None:
    """Take every changed mutable setting from `fresh`; the others need a restart."""
    for setting in SETTINGS:
        old, new = getattr(config, setting.attr), getattr(fresh, setting.attr)
        if old == new:
            continue
        if setting.mutable and setting.name not in _NEEDS_RESTART:
            setattr(config, setting.attr, new)
            log.info("Config reload: %s is now %s", setting.name, fresh.get(setting.name))
        else:
            log.warning("Config reload: %s changed, but takes effect only after a restart",
                        setting.name)
