"""CLIENT and its subcommands: naming and listing connections, killing and unblocking them,
CLIENT TRACKING (client-side caching, core/tracking.py), PAUSE (core/pause.py), REPLY."""

from __future__ import annotations

import bisect
import time
from collections import Counter
from typing import Any

from valkdb import errors
from valkdb.commands.args import to_int
from valkdb.commands.connection import validate_name
from valkdb.commands.keys import help_reply
from valkdb.core.context import REPLY_OFF, REPLY_ON, REPLY_SKIP_NEXT, Context
from valkdb.core.pause import ALL, WRITE
from valkdb.core.registry import command, container
from valkdb.protocol.encoder import OK, bulk, bulk_array, integer

container("client")


container("client")


@command("client|id")
def client_id(c: Context, argv: list[bytes]) -> bytes:
    return integer(c.id)


@command("client|setname")
def client_setname(c: Context, argv: list[bytes]) -> bytes:
    validate_name(argv[2])
    c.name = argv[2]
    return OK


@command("client|getname")
def client_getname(c: Context, argv: list[bytes]) -> bytes:
    return bulk(c.name) if c.name else c.resp.null


@command("client|setinfo", 4, "noscript loading stale", 0, 0, 0)  # Redis 7.2's
def client_setinfo(c: Any, argv: list[bytes]) -> bytes:  # a connection.Client
    attr = argv[2].upper()
    if attr not in (b"LIB-NAME", b"LIB-VER"):
        return errors.err_bytes(b"ERR Unrecognized option '%s'" % argv[2])
    if any(ch < 33 or ch > 126 for ch in argv[3]):
        return errors.err_bytes(
            b"ERR %s cannot contain spaces, newlines or special characters." % attr)
    if attr == b"LIB-NAME":
        c.lib_name = argv[3]
    else:
        c.lib_ver = argv[3]
    return OK


@command("client|info")
def client_info(c: Any, argv: list[bytes]) -> bytes:  # a connection.Client
    return c.resp.verbatim(c.describe(argv).encode() + b"\n")


def _client_type(client) -> bytes:  # type: ignore[no-untyped-def]
    subscribed = client.channels or client.patterns or client.shard_channels
    return b"pubsub" if subscribed else b"normal"


@command("client|list")
def client_list(c: Context, argv: list[bytes]) -> bytes:
    clients = list(c.server.clients.values())
    if len(argv) > 2:
        opt = argv[2].upper()
        if opt == b"TYPE" and len(argv) == 4:
            wanted = argv[3].lower()
            if wanted not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                return errors.unknown_client_type(argv[3])
            clients = [cl for cl in clients if _client_type(cl) == wanted]
        elif opt == b"ID" and len(argv) > 3:
            ids = {to_int(arg, errors.err("ERR Invalid client ID")) for arg in argv[3:]}
            clients = [cl for cl in clients if cl.id in ids]
        else:
            return errors.SYNTAX
    return c.resp.verbatim(b"".join(
        cl.describe(argv if cl is c else None).encode() + b"\n" for cl in clients))


@command("client|kill")
def client_kill(c: Context, argv: list[bytes]) -> bytes:
    clients = list(c.server.clients.values())
    if len(argv) == 3:  # old form: CLIENT KILL addr:port
        for client in clients:
            if client.addr.encode() == argv[2]:
                client.kill()
                return OK
        return errors.err("ERR No such client")
    skipme = True
    filters = []
    for i in range(2, len(argv), 2):
        if i + 1 == len(argv):  # an option without a value: Redis checks options in order
            return errors.SYNTAX
        opt, value = argv[i].upper(), argv[i + 1]
        if opt == b"ID":
            wanted = to_int(value, errors.CLIENT_ID_NOT_POSITIVE)
            if wanted <= 0:
                return errors.CLIENT_ID_NOT_POSITIVE
            filters.append(lambda cl, w=wanted: cl.id == w)
        elif opt == b"ADDR":
            filters.append(lambda cl, w=value: cl.addr.encode() == w)
        elif opt == b"LADDR":
            filters.append(lambda cl, w=value: cl.laddr.encode() == w)
        elif opt == b"TYPE":
            kind = value.lower()
            if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                return errors.unknown_client_type(value)
            filters.append(lambda cl, w=kind: _client_type(cl) == w)
        elif opt == b"USER":
            if value != b"default":
                return errors.err_bytes(b"ERR No such user '%s'" % value)
        elif opt == b"SKIPME":
            if value.lower() not in (b"yes", b"no"):
                return errors.SYNTAX
            skipme = value.lower() == b"yes"
        else:
            return errors.SYNTAX
    killed = 0
    for client in clients:
        if skipme and client is c:
            continue
        if all(f(client) for f in filters):
            client.kill()
            killed += 1
    return integer(killed)


@command("client|no-evict")
def client_no_evict(c: Any, argv: list[bytes]) -> bytes:  # a connection.Client
    """Marks the client as exempt from client eviction (maxmemory-clients, which valkdb does
    not enforce yet); CLIENT LIST shows it as flag `e`."""
    mode = argv[2].lower()
    if mode not in (b"on", b"off"):
        return errors.SYNTAX
    c.no_evict = mode == b"on"
    return OK


@command("client|unblock")
def client_unblock(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) > 4:
        return errors.subcommand_syntax(b"unblock", "client")
    client_id = to_int(argv[2])
    mode = argv[3].upper() if len(argv) == 4 else b"TIMEOUT"
    if mode not in (b"TIMEOUT", b"ERROR"):
        return errors.err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    target = c.server.clients.get(client_id)
    if target is None or target.waiter is None:
        return integer(0)
    target.waiter.finish(None if mode == b"TIMEOUT" else _UNBLOCKED)
    return integer(1)


_UNBLOCKED = errors.err("UNBLOCKED client unblocked via CLIENT UNBLOCK")


# -- client-side caching --------------------------------------------------------------------

@command("client|tracking")
def client_tracking(c: Any, argv: list[bytes]) -> bytes:  # a connection.Client
    redirect = 0
    options: set[bytes] = set()
    prefixes: list[bytes] = []
    j = 3
    while j < len(argv):
        option = argv[j].lower()
        more = j + 1 < len(argv)
        if option == b"redirect" and more:
            j += 1
            if redirect:
                return errors.err("ERR A client can only redirect to a single other client")
            redirect = to_int(argv[j])
            if redirect not in c.server.clients:
                return errors.err("ERR The client ID you want redirect to does not exist")
        elif option in (b"bcast", b"optin", b"optout", b"noloop"):
            options.add(option)
        elif option == b"prefix" and more:
            j += 1
            prefixes.append(argv[j])
        else:
            return errors.SYNTAX
        j += 1
    mode = argv[2].lower()
    tracking = c.server.tracking
    if mode == b"off":
        tracking.disable(c)
        return OK
    if mode != b"on":
        return errors.SYNTAX
    refusal = _tracking_refusal(c, options, prefixes)
    if refusal is not None:
        return refusal
    tracking.enable(c, redirect, b"bcast" in options, b"optin" in options,
                    b"optout" in options, b"noloop" in options, prefixes)
    return OK


def _tracking_refusal(c: Any, options: set[bytes], prefixes: list[bytes]) -> bytes | None:
    """CLIENT TRACKING on's checks of its options against each other and the client's state,
    in Redis's order."""
    bcast = b"bcast" in options
    state = c.tracking
    if prefixes and not bcast:
        return errors.err("ERR PREFIX option requires BCAST mode to be enabled")
    if state is not None and state.bcast != bcast:
        return errors.err(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this "
            "client, and then re-enabling it with a different mode.")
    if bcast and options & {b"optin", b"optout"}:
        return errors.err("ERR OPTIN and OPTOUT are not compatible with BCAST")
    if {b"optin", b"optout"} <= options:
        return errors.err("ERR You can't specify both OPTIN mode and OPTOUT mode")
    if state is not None and (b"optin" in options and state.optout
                              or b"optout" in options and state.optin):
        return errors.err(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this "
            "client, and then re-enabling it with a different mode.")
    if bcast:
        return _prefix_overlap(list(state.prefixes) if state is not None else [], prefixes)
    return None


def _prefix_overlap(existing: list[bytes], prefixes: list[bytes]) -> bytes | None:
    """Redis's checkPrefixCollisionsOrReply, same first error, without its quadratic walk (a
    client controls how many prefixes it sends): the first prefix, in the order given, that
    overlaps an existing one (the first in sorted order) or a later one given."""
    held = set(existing)
    ordered = sorted(existing)
    counts = Counter(prefixes)
    # A given prefix overlaps another given one iff it repeats, or one is a prefix of the other.
    overlapping = {p for p, n in counts.items() if n > 1}
    for p in counts:
        for k in range(len(p)):
            if p[:k] in counts:
                overlapping.update((p, p[:k]))
    for i, prefix in enumerate(prefixes):
        first = next((prefix[:k] for k in range(len(prefix) + 1) if prefix[:k] in held), None)
        if first is None:
            at = bisect.bisect_left(ordered, prefix)
            if at < len(ordered) and ordered[at].startswith(prefix):
                first = ordered[at]
        if first is not None:
            return errors.err_bytes(
                b"ERR Prefix '%s' overlaps with an existing prefix '%s'. Prefixes for a "
                b"single client must not overlap." % (prefix, first))
        if prefix in overlapping:
            other = next(p for p in prefixes[i + 1:] if _overlap(prefix, p))
            return errors.err_bytes(
                b"ERR Prefix '%s' overlaps with another provided prefix '%s'. Prefixes for a "
                b"single client must not overlap." % (prefix, other))
    return None


def _overlap(one: bytes, other: bytes) -> bool:
    """One is a prefix of the other (Redis's stringCheckPrefix)."""
    n = min(len(one), len(other))
    return one[:n] == other[:n]


@command("client|caching")
def client_caching(c: Context, argv: list[bytes]) -> bytes:
    state = c.tracking
    if state is None:
        return errors.err("ERR CLIENT CACHING can be called only when the client is in "
                          "tracking mode with OPTIN or OPTOUT mode enabled")
    answer = argv[2].lower()
    if answer == b"yes":
        if not state.optin:
            return errors.err(
                "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
    elif answer == b"no":
        if not state.optout:
            return errors.err(
                "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
    else:
        return errors.SYNTAX
    state.caching = True
    return OK


@command("client|getredir")
def client_getredir(c: Context, argv: list[bytes]) -> bytes:
    return integer(-1 if c.tracking is None else c.tracking.redirect)


@command("client|trackinginfo")
def client_trackinginfo(c: Context, argv: list[bytes]) -> bytes:
    state = c.tracking
    flags = [b"off"] if state is None else [b"on", *state.flags()]
    return c.resp.map([
        (bulk(b"flags"), c.resp.set([bulk(flag) for flag in flags])),
        (bulk(b"redirect"), integer(-1 if state is None else state.redirect)),
        (bulk(b"prefixes"), bulk_array(list(state.prefixes) if state is not None else [])),
    ])


# -- pauses and replies ---------------------------------------------------------------------

@command("client|pause")
def client_pause(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) > 4:
        return errors.subcommand_syntax(argv[1], "CLIENT")
    kind = ALL
    if len(argv) == 4:
        mode = argv[3].lower()
        if mode not in (b"write", b"all"):
            return errors.err("ERR CLIENT PAUSE mode must be WRITE or ALL")
        kind = WRITE if mode == b"write" else ALL
    timeout = to_int(argv[2], errors.err("ERR timeout is not an integer or out of range"))
    if timeout < 0:
        return errors.TIMEOUT_NEGATIVE
    # (a zero timeout ends at once, as Redis's: its end time is 0)
    c.server.pause.pause("client", kind, time.time() + timeout / 1000 if timeout else 0.0)
    return OK


@command("client|unpause")
def client_unpause(c: Context, argv: list[bytes]) -> bytes:
    c.server.pause.unpause("client")
    return OK


@command("client|reply")
def client_reply(c: Context, argv: list[bytes]) -> bytes:
    mode = argv[2].lower()
    if mode == b"on":
        c.reply_mode = REPLY_ON
        return OK
    if mode == b"off":
        c.reply_mode = REPLY_OFF
    elif mode == b"skip":
        if c.reply_mode != REPLY_OFF:
            c.reply_mode = REPLY_SKIP_NEXT
    else:
        return errors.SYNTAX
    return b""


_CLIENT_HELP = [
    b"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"CACHING (YES|NO)",
    b"    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    b"GETREDIR",
    b"    Return the client ID we are redirecting to when tracking is enabled.",
    b"GETNAME",
    b"    Return the name of the current connection.",
    b"ID",
    b"    Return the ID of the current connection.",
    b"INFO",
    b"    Return information about the current client connection.",
    b"KILL <ip:port>",
    b"    Kill connection made from <ip:port>.",
    b"KILL <option> <value> [<option> <value> [...]]",
    b"    Kill connections. Options are:",
    b"    * ADDR (<ip:port>|<unixsocket>:0)",
    b"      Kill connections made from the specified address",
    b"    * LADDR (<ip:port>|<unixsocket>:0)",
    b"      Kill connections made to specified local address",
    b"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    b"      Kill connections by type.",
    b"    * USER <username>",
    b"      Kill connections authenticated by <username>.",
    b"    * SKIPME (YES|NO)",
    b"      Skip killing current connection (default: yes).",
    b"LIST [options ...]",
    b"    Return information about client connections. Options:",
    b"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    b"      Return clients of specified type.",
    b"UNPAUSE",
    b"    Stop the current client pause, resuming traffic.",
    b"PAUSE <timeout> [WRITE|ALL]",
    b"    Suspend all, or just write, clients for <timeout> milliseconds.",
    b"REPLY (ON|OFF|SKIP)",
    b"    Control the replies sent to the current connection.",
    b"SETNAME <name>",
    b"    Assign the name <name> to the current connection.",
    b"UNBLOCK <clientid> [TIMEOUT|ERROR]",
    b"    Unblock the specified blocked client.",
    b"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    b"         [OPTIN] [OPTOUT] [NOLOOP]",
    b"    Control server assisted client side caching.",
    b"TRACKINGINFO",
    b"    Report tracking status for the current connection.",
    b"NO-EVICT (ON|OFF)",
    b"    Protect current client connection from eviction.",
]


@command("client|help")
def client_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_CLIENT_HELP)
