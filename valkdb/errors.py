"""Redis's shared error replies, spelled exactly once.

Clients turn the first word of an error into an exception type (redis-py's `_parsers`), so the
prefixes and texts below are Redis 7.0's, byte for byte (src/server.c createSharedObjects).
"""


class CommandError(Exception):
    """Raised deep inside a command to abort it with an error reply (never on the success path).

    `reply` is the complete RESP error line, e.g. b'-ERR syntax error\\r\\n'.
    """

    def __init__(self, reply: bytes) -> None:
        super().__init__(reply)
        self.reply = reply


def err(message: str) -> bytes:
    """`message` is the text after the '-', e.g. 'ERR syntax error'."""
    return b"-" + message.encode() + b"\r\n"


SYNTAX = err("ERR syntax error")
WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value")
NOT_INTEGER = err("ERR value is not an integer or out of range")
NOT_FLOAT = err("ERR value is not a valid float")
INCR_OVERFLOW = err("ERR increment or decrement would overflow")
NAN_OR_INFINITY = err("ERR increment would produce NaN or Infinity")
NO_SUCH_KEY = err("ERR no such key")
OUT_OF_RANGE = err("ERR index out of range")
DB_INDEX = err("ERR DB index is out of range")
SAME_OBJECT = err("ERR source and destination objects are the same")
NOAUTH = err("NOAUTH Authentication required.")
WRONGPASS = err("WRONGPASS invalid username-password pair or user is disabled.")
NOPASS_AUTH = err(
    "ERR AUTH <password> called without any password configured for the default user. "
    "Are you sure your configuration is correct?"
)
NOAUTH_HELLO = err(
    "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
    "HELLO AUTH <user> <pass> option can be used to authenticate the client and select "
    "the RESP protocol version at the same time"
)
NOPROTO = err("NOPROTO unsupported protocol version")
MAX_CLIENTS = err("ERR max number of clients reached")
LOADING = err("LOADING Redis is loading the dataset in memory")
BUSYKEY = err("BUSYKEY Target key name already exists.")
NOT_POSITIVE = err("ERR value is out of range, must be positive")
LONG_RANGE = err(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
TIMEOUT_NEGATIVE = err("ERR timeout is negative")
CLIENT_ID_NOT_POSITIVE = err("ERR client-id should be greater than 0")
NUMKEYS = err("ERR numkeys should be greater than 0")
COUNT_NOT_POSITIVE = err("ERR count should be greater than 0")
LIMIT_NEGATIVE = err("ERR LIMIT can't be negative")
VALUE_OUT_OF_RANGE = err("ERR value is out of range")
NO_SHUTDOWN = err("ERR No shutdown in progress.")
SHUTDOWN_FAILED = err("ERR Errors trying to SHUTDOWN. Check logs.")
MISCONF_RDB = err(
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to "
    "disk. Commands that may modify the data set are disabled, because this instance is "
    "configured to report errors during writes if RDB snapshotting fails "
    "(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB "
    "error.")
BARE_ERR = err("ERR")  # shared.err: a save that failed (the log says why)
BGSAVE_IN_PROGRESS = err("ERR Background save already in progress")
BGSAVE_CHILD_ACTIVE = err(
    "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in "
    "order to schedule a BGSAVE whenever possible.")
BGREWRITEAOF_IN_PROGRESS = err(
    "ERR Background append only file rewriting already in progress")
AOF_REWRITE_FAILED = err(
    "ERR Can't execute an AOF background rewriting. Please check the server logs for more "
    "information.")


def misconf_aof(reason: str) -> bytes:
    return err(f"MISCONF Errors writing to the AOF file: {reason}")


def err_bytes(message: bytes) -> bytes:
    """Like err() for text that quotes client bytes; Redis turns CR and LF into spaces."""
    return b"-" + message.replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n"


def wrong_arity(name: str) -> bytes:
    return err(f"ERR wrong number of arguments for '{name}' command")


def c_string(arg: bytes) -> bytes:
    """What C's printf("%s") shows of an argument: everything before the first NUL."""
    return arg.partition(b"\0")[0]


def unknown_subcommand(sub: bytes, container: str) -> bytes:
    return err_bytes(
        b"ERR unknown subcommand '%s'. Try %s HELP."
        % (c_string(sub[:128]), container.upper().encode())
    )


def subcommand_syntax(sub: bytes, container: str) -> bytes:
    """Redis's addReplySubcommandSyntaxError: the subcommand as the client spelled it, as %.128s
    shows it."""
    return err_bytes(b"ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."
                     % (c_string(sub)[:128], container.upper().encode()))


def unknown_client_type(name: bytes) -> bytes:
    return err_bytes(b"ERR Unknown client type '%s'" % name)


def invalid_expire_time(command: str) -> bytes:
    return err(f"ERR invalid expire time in '{command}' command")


def unknown_command(argv: list) -> bytes:
    """Redis: name cut at 128 chars, then the args quoted until 128 chars of them are shown."""
    shown = b""
    for arg in argv[1:]:
        if len(shown) >= 128:
            break
        shown += b"'%s' " % c_string(arg[: 128 - len(shown)])
    return err_bytes(
        b"ERR unknown command '%s', with args beginning with: %s"
        % (c_string(argv[0][:128]), shown)
    )


def protocol(message: bytes) -> bytes:
    return err_bytes(b"ERR Protocol error: " + message)


class AofError(Exception):
    """An AOF that cannot be loaded, written or turned on; str() is Redis's log message.
    Defined here so that commands (BGREWRITEAOF, CONFIG SET appendonly) can catch it without
    importing persistence."""
