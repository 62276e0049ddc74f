"""Sans-I/O request reader: bytes in, argument lists out, with Redis's server-side limits.

Redis decides per command: a buffer starting with '*' is a multibulk request, anything else an
inline one (src/networking.c processMultibulkBuffer / processInlineBuffer). The errors below are
Redis 7.0's exact texts; after one of them the server replies `-ERR Protocol error: ...` and closes
the connection, having first run the commands that came before it.

A partly received multibulk request keeps its parsed arguments between feeds (as Redis keeps
`multibulklen`/`bulklen`), so a huge request arriving in many chunks costs linear, not quadratic,
time; a big bulk argument is gathered from its chunks with one join once it is complete.

Fast path: a buffer that starts a multibulk request is first given to hiredis's C parser (about
4x faster). hiredis is a client's parser: it accepts every RESP3 type, nested aggregates, and
skips the two bytes after a bulk string's data without looking at them (as Redis does), so an
element header can hide behind those two bytes. Its result is therefore taken only when it is
*proven* to be what processMultibulkBuffer reads (see _hiredis_commands); anything else (a
partial command at the end, an inline command, unusual input) is parsed again by the exact
Python parser below.
"""

from __future__ import annotations

import re
from itertools import chain

import hiredis

INLINE_MAX_SIZE = 64 * 1024  # PROTO_INLINE_MAX_SIZE
# Redis checks the limit after each read, and its reads of a line sent at once stop 81,910 bytes
# in (16 KB, 48 KB, then 16 KB, less sds headers; measured on redis-server 7.0.15): a newline
# beyond that is never seen before the buffer has passed the limit.
INLINE_ACCEPTED = 81910
INT_MAX = 2**31 - 1
LLONG_MAX = 2**63 - 1
# Before AUTH succeeds Redis accepts only small requests (src/networking.c, 7.0).
UNAUTH_MAX_MULTIBULK = 10
UNAUTH_MAX_BULK = 16384
# hiredis allocates an aggregate's list when it reads the header, before its elements arrive,
# and nests up to 1024 deep: it may see no RESP3 aggregate marker at all, a lone request of up
# to 999,999 elements, and in a pipeline only arrays of fewer than 1,000 (a longer command is
# read by the exact parser).
_AGGREGATE_MARKERS = b"%~>|"

_BIG_ARRAY_HEADER = re.compile(rb"\*\d{4}")


class ProtocolError(Exception):
    """The request is malformed: reply `-ERR Protocol error: <args[0]>` and close (bytes)."""


class QueryBufferOverflow(Exception):
    """The pending request passed client-query-buffer-limit: close without a reply."""


def parse_length(digits: bytes) -> int | None:
    """Redis's string2ll: a 64-bit integer with an optional '-', no leading zeros, no '+', no
    spaces, fewer than 21 bytes; else None."""
    if len(digits) > 20:  # LONG_STR_SIZE; also keeps int() below its digit limit
        return None
    if digits.isdigit():
        if digits[0] == 48 and len(digits) > 1:  # leading zero
            return None
        value = int(digits)
        return value if value <= LLONG_MAX else None
    if len(digits) > 1 and digits[0] == 45 and digits[1:].isdigit() and digits[1] != 48:
        value = -int(digits[1:])
        return value if value >= -LLONG_MAX - 1 else None
    return None

class RequestReader:
    """Feed it received bytes; `read()` returns every complete command as a list of bytes.

    After a protocol error `read()` returns the commands before it and sets `error`; the caller
    replies with it and closes. `authenticated` is set False by the caller while AUTH is required.
    """

    __slots__ = (
        "_chunks", "_size", "_need", "_argv", "_args_left", "_hiredis",
        "max_bulk_len", "query_buffer_limit", "authenticated", "error",
    )

    def __init__(
        self, max_bulk_len: int = 512 * 1024 * 1024, query_buffer_limit: int = 1024**3
    ) -> None:
        self._chunks: list[bytes] = []
        self._size = 0  # bytes in _chunks
        self._need = 1  # do not parse before this many bytes are buffered
        self._argv: list[bytes] = []  # arguments of a partly received multibulk request
        self._args_left = 0  # arguments still to come for _argv
        self._hiredis = hiredis.Reader()
        self.max_bulk_len = max_bulk_len
        self.query_buffer_limit = query_buffer_limit
        self.authenticated = True
        self.error: bytes | None = None

    def feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._size += len(data)
        if self._size > self.query_buffer_limit:
            raise QueryBufferOverflow(self._size)

    def pending(self) -> int:
        """Bytes received but not yet part of a complete command (for CLIENT LIST qbuf)."""
        return self._size

    def read(self) -> list[list[bytes]]:
        """Every complete command buffered; only the first one while not authenticated (the
        caller runs it, then reads again, so the commands after AUTH get the normal limits)."""
        if self._size < self._need or self.error is not None:
            return []
        chunks = self._chunks
        buf = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if buf[0] == 42 and not self._args_left and self.authenticated:
            fast = self._hiredis_commands(buf)
            if fast is not None:
                self._chunks = []
                self._size = 0
                self._need = 1
                return fast
        commands: list[list[bytes]] = []
        try:
            pos = self._parse(buf, commands)
        except ProtocolError as exc:
            self.error = exc.args[0]
            pos = len(buf)
        rest = buf[pos:] if pos < len(buf) else b""
        self._chunks = [rest] if rest else []
        self._size = len(rest)
        return commands

    def _hiredis_commands(self, buf: bytes) -> list[list[bytes]] | None:
        """Every command in buf, parsed by hiredis, if buf is proven to hold only complete
        multibulk requests of bulk strings that Redis reads the same way; else None.

        hiredis parses counts and lengths as strictly as string2ll, so once every element is
        known to come from a '$' header and nothing is left over, Redis reads buf the same way
        (buf within proto-max-bulk-len bounds every element). A lone request is proven by
        _bulk_layout. A pipeline is proven in C-speed steps, as the per-element walk would cost
        more than the parse. Nothing is left over: fed `*0`, hiredis returns [] (a partial
        request would take those bytes). Every element is bytes (else the join fails) and none
        holds a CRLF (joined with LF, which also shows data ending in CR before a trailer); buf
        ends with a CRLF and holds exactly one per array header, per element header and per
        element trailer. So every element is followed by a CRLF, which leaves no room for the
        element types hiredis returns as bytes without a trailer ('+', '('); every element
        header follows a CRLF, and none of those is '=' (a verbatim string). A pipeline whose
        data holds CRLFs is proven by the walk.
        """
        # No RESP3 aggregate marker: one translate pass is cheapest for a short buffer, four
        # finds (memchr) for a long one (measured with callgrind).
        if len(buf) < 256:
            if len(buf.translate(None, _AGGREGATE_MARKERS)) != len(buf):
                return None
        elif (buf.find(b"%") >= 0 or buf.find(b"~") >= 0 or buf.find(b">") >= 0
                or buf.find(b"|") >= 0):
            return None
        pipeline = buf.find(b"*", 1) >= 0
        if pipeline:
            if _BIG_ARRAY_HEADER.search(buf) is not None:
                return None
        elif buf[1:7].isdigit():  # one array header: no nesting, a single allocation
            return None
        if len(buf) > self.max_bulk_len:
            return None
        reader = self._hiredis
        reader.feed(buf)
        commands = []
        try:
            while True:
                argv = reader.gets()
                if argv is False:
                    break
                commands.append(argv)
            if pipeline and all(commands):
                joined = b"\n".join(chain.from_iterable(commands))  # TypeError: not bytes
                if (b"\r\n" not in joined and b"\r\n=" not in buf and buf.endswith(b"\r\n")
                        and buf.count(b"\r\n") == len(commands) + 2 * sum(map(len, commands))):
                    reader.feed(b"*0\r\n")  # a clean parser reads this as [] and is clean again
                    if reader.gets() == []:
                        return commands
            if _bulk_layout(buf, commands):
                return commands
        except (hiredis.ProtocolError, TypeError):
            pass
        self._hiredis = hiredis.Reader()  # drop whatever partial state it holds
        return None

    def _parse(self, buf: bytes, commands: list[list[bytes]]) -> int:
        """Parse complete commands from buf into `commands`; return the offset consumed."""
        end = len(buf)
        pos = 0
        find = buf.find
        while pos < end:
            if self._args_left == 0:
                if buf[pos] != 42:  # not '*': an inline command
                    newline = find(b"\n", pos)
                    if newline >= 0 and find(b"\0", pos, newline) >= 0:
                        newline = -1  # Redis's strchr stops at a NUL byte
                    if newline < 0:
                        if end - pos > INLINE_MAX_SIZE:
                            raise ProtocolError(b"too big inline request")
                        self._need = end - pos + 1
                        return pos
                    if newline - pos >= INLINE_ACCEPTED:
                        raise ProtocolError(b"too big inline request")
                    line = buf[pos:newline]
                    pos = newline + 1
                    args = split_args(line[:-1] if line.endswith(b"\r") else line)
                    if args is None:
                        raise ProtocolError(b"unbalanced quotes in request")
                    if args:
                        commands.append(args)
                        if not self.authenticated:
                            break
                    continue
                cr = find(b"\r", pos)
                if cr < 0:
                    if end - pos > INLINE_MAX_SIZE:
                        raise ProtocolError(b"too big mbulk count string")
                    self._need = end - pos + 1
                    return pos
                if cr + 1 >= end:  # the '\n' after the count is not here yet
                    self._need = end - pos + 1
                    return pos
                count = parse_length(buf[pos + 1 : cr])
                if count is None or count > INT_MAX:
                    if find(b"\0", pos, cr) >= 0:  # C's strchr saw no '\r': wait for more
                        if end - pos > INLINE_MAX_SIZE:
                            raise ProtocolError(b"too big mbulk count string")
                        self._need = end - pos + 1
                        return pos
                    raise ProtocolError(b"invalid multibulk length")
                if not self.authenticated and count > UNAUTH_MAX_MULTIBULK:
                    raise ProtocolError(b"unauthenticated multibulk length")
                pos = cr + 2
                if count <= 0:  # Redis ignores empty and negative multibulk requests
                    continue
                self._args_left = count
                self._argv = []
            # Arguments of the current multibulk request.
            argv = self._argv
            left = self._args_left
            while left:
                cr = find(b"\r", pos)
                length = parse_length(buf[pos + 1 : cr]) if cr > pos else None
                if length is None or buf[pos] != 36 or length < 0 or length > self.max_bulk_len:
                    if cr >= 0 and find(b"\0", pos, cr) >= 0:
                        cr = -1  # C's strchr stops at a NUL byte: no '\r' seen yet
                    if cr < 0 or cr + 1 >= end:
                        if cr < 0 and end - pos > INLINE_MAX_SIZE:
                            raise ProtocolError(b"too big bulk count string")
                        self._args_left = left
                        self._need = end - pos + 1
                        return pos
                    if buf[pos] != 36:  # '$'
                        raise ProtocolError(b"expected '$', got '%c'" % buf[pos])
                    raise ProtocolError(b"invalid bulk length")
                if not self.authenticated and length > UNAUTH_MAX_BULK:
                    raise ProtocolError(b"unauthenticated bulk length")
                start = cr + 2
                stop = start + length
                if stop + 2 > end:
                    self._args_left = left
                    self._need = stop + 2 - pos
                    return pos
                argv.append(buf[start:stop])
                pos = stop + 2  # Redis skips the CRLF after the data without looking at it
                left -= 1
            self._args_left = 0
            commands.append(argv)
            if not self.authenticated:
                break
        self._need = 1
        return pos


# sdssplitargs skips isspace() bytes between arguments, but ends an unquoted argument only at
# these five (so "a\vb" is one argument, " \va" is "a").
def _bulk_layout(buf: bytes, commands: list) -> bool:
    """Whether buf is exactly `commands` written as multibulk requests with a '$' header for
    every element: each header byte is checked where that layout puts it, so by induction
    every element is a bulk string (hiredis parsed its length as string2ll does) and nothing
    is left after the last request."""
    pos = 0
    end = len(buf)
    digits = _DIGITS
    for argv in commands:
        if type(argv) is not list or not argv:
            return False
        count = len(argv)
        pos += 3 + (digits[count] if count < 1000 else len(b"%d" % count))
        for arg in argv:
            if pos >= end or buf[pos] != 36 or type(arg) is not bytes:  # '$'
                return False
            size = len(arg)
            pos += 5 + size + (digits[size] if size < 1000 else len(b"%d" % size))
    return pos == end


_DIGITS = [len(b"%d" % i) for i in range(1000)]


_BLANK = frozenset(b" \n\r\t\f\v")
_SEPARATORS = frozenset(b" \n\r\t\0")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("a"): 7}
_HEX = frozenset(b"0123456789abcdefABCDEF")


def split_args(line: bytes) -> list[bytes] | None:
    """Redis's sdssplitargs: split an inline command; None means unbalanced quotes.

    Outside quotes, whitespace separates arguments; "..." supports \\xHH and \\n \\r \\t \\b \\a
    escapes; '...' supports only \\'. A closing quote must be followed by a space or the end.
    Like the C code, a NUL byte ends the line.
    """
    if (b'"' not in line and b"'" not in line and b"\0" not in line and b"\v" not in line
            and b"\f" not in line):
        return line.split()  # on space, \t, \n and \r: the separators here
    args: list[bytes] = []
    n = len(line)
    i = 0
    while True:
        while i < n and line[i] in _BLANK:
            i += 1
        if i >= n or line[i] == 0:
            return args
        current = bytearray()
        in_dq = in_sq = False
        while True:
            c = line[i] if i < n else 0
            if in_dq:
                if c == 0:
                    return None
                if (
                    c == 92 and i + 3 < n and line[i + 1] == 120
                    and line[i + 2] in _HEX and line[i + 3] in _HEX
                ):
                    current.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif c == 92 and i + 1 < n and line[i + 1] != 0:
                    i += 1
                    current.append(_ESCAPES.get(line[i], line[i]))
                elif c == 34:
                    if i + 1 < n and line[i + 1] not in _BLANK and line[i + 1] != 0:
                        return None
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_sq:
                if c == 0:
                    return None
                if c == 92 and i + 1 < n and line[i + 1] == 39:
                    i += 1
                    current.append(39)
                elif c == 39:
                    if i + 1 < n and line[i + 1] not in _BLANK and line[i + 1] != 0:
                        return None
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if c in _SEPARATORS:
                    break
                if c == 34:
                    in_dq = True
                elif c == 39:
                    in_sq = True
                else:
                    current.append(c)
            i += 1
        args.append(bytes(current))
