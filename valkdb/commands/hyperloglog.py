"""HyperLogLog commands (Redis's hyperloglog.c): PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.

An HLL is an ordinary string (store/hyperloglog.py has the format), so these handlers read the
string, work on a store.hyperloglog.Hll copy and write the bytes back exactly when Redis's
in-place edits would have changed them. Two Redis quirks are kept on purpose:

- PFCOUNT of one key caches the estimate in the header: a change (WATCH fires, the key's bytes
  differ) that Redis propagates although PFCOUNT is flagged read-only, so it logs itself here;
- PFADD that meets a corrupted sparse payload half-way leaves the registers it already raised,
  without counting a change or propagating (Redis edits the value in place, then errors).
"""

from __future__ import annotations

import math
import random

from valkdb import errors
from valkdb.core.context import Context
from valkdb.core.notifications import STRING
from valkdb.core.registry import command
from valkdb.errors import CommandError
from valkdb.protocol.encoder import OK, ONE, ZERO, bulk, integer
from valkdb.store import hyperloglog as hll

INVALID = errors.err("INVALIDOBJ Corrupted HLL object detected")
NOT_HLL = errors.err("WRONGTYPE Key is not a valid HyperLogLog string value.")


def _existing(db, key: bytes, read: bool = False) -> bytes | None:  # type: ignore[no-untyped-def]
    """The HLL string at key, None if missing; WRONGTYPE for another type or a string that is
    not an HLL (isHLLObjectOrReply)."""
    value = db.read(key) if read else db.lookup(key)
    if value is None:
        return None
    if type(value) is not bytes:
        raise CommandError(errors.WRONGTYPE)
    if not hll.is_hll(value):
        raise CommandError(NOT_HLL)
    return value


@command("pfadd")
def pfadd(c: Context, argv: list[bytes]) -> bytes:
    db, key = c.db, argv[1]
    value = _existing(db, key)
    work = hll.Hll(hll.EMPTY if value is None else value)
    updated, corrupted = work.add_all(argv[2:], c.server.config.hll_sparse_max_bytes)
    if corrupted:
        db.overwrite_silently(key, work.to_bytes())
        return INVALID
    if value is None:
        updated += 1
    if not updated:
        return ZERO
    work.invalidate()
    if value is None:
        db.store(key, work.to_bytes())
    else:
        db.replace(key, work.to_bytes())
    db.count_changes(updated - 1)  # Redis counts every raised register
    c.notify(STRING, b"pfadd", key)
    return ONE


@command("pfcount")
def pfcount(c: Context, argv: list[bytes]) -> bytes:
    db = c.db
    if len(argv) > 2:  # the union's cardinality; no key changes
        union = _union(db, argv[1:])[0]
        return integer(hll.signed(hll.count(hll.histogram(union.to_bytes(hll.REGISTERS,
                                                                          "little")))))
    value = _existing(db, argv[1], read=True)
    if value is None:
        return ZERO
    cached = hll.cached_cardinality(value)
    if cached is not None:
        return integer(cached)
    try:
        card = hll.count(hll.Hll(value).histogram())
    except hll.Corrupted:
        return INVALID
    db.replace(argv[1], hll.with_cardinality(value, card))
    c.propagate(argv)  # read-only in the table, yet the cache write replicates (dirty++)
    return integer(hll.signed(card))


def _union(db, keys: list[bytes]) -> tuple[int, bool]:  # type: ignore[no-untyped-def]
    """The register-wise maximum of the HLLs at keys (missing ones are empty), as an integer
    of one byte per register, and whether any of them is dense."""
    union = 0
    any_dense = False
    for key in keys:
        value = _existing(db, key, read=True)
        if value is None:
            continue
        work = hll.Hll(value)
        any_dense = any_dense or not work.is_sparse
        try:
            registers = work.registers()
        except hll.Corrupted:
            raise CommandError(INVALID) from None
        union = hll.max_registers(union, int.from_bytes(registers, "little"))
    return union, any_dense


@command("pfmerge")
def pfmerge(c: Context, argv: list[bytes]) -> bytes:
    db, dest = c.db, argv[1]
    union, any_dense = _union(db, argv[1:])  # the destination counts as a source
    value = db.lookup(dest)
    work = hll.Hll(hll.EMPTY if value is None else value)
    if any_dense:
        work.to_dense()  # cannot fail: the destination was read as a source
    raw = union.to_bytes(hll.REGISTERS, "little")
    if work.is_sparse:
        max_sparse = c.server.config.hll_sparse_max_bytes
        for index, run in enumerate(raw):
            if run:
                work.set(index, run, max_sparse)
                if not work.is_sparse:  # promoted: the rest in one lane-wise maximum
                    break
    if not work.is_sparse:
        work.merge_into_dense(union)
    work.invalidate()
    if value is None:
        db.store(dest, work.to_bytes())
    else:
        db.replace(dest, work.to_bytes())
    c.notify(STRING, b"pfadd", dest)  # as Redis: a merge is a mass PFADD
    return OK


@command("pfdebug")
def pfdebug(c: Context, argv: list[bytes]) -> bytes:
    db, key = c.db, argv[2]
    value = db.lookup(key)
    if value is None:
        return errors.err("ERR The specified key does not exist")
    value = _existing(db, key)
    assert value is not None
    sub = errors.c_string(argv[1]).lower()  # strcasecmp on the C string
    work = hll.Hll(value)
    if sub in (b"getreg", b"todense"):
        try:
            converted = work.to_dense()
        except hll.Corrupted:
            return INVALID
        if converted:  # Redis counts the encoding change so that it propagates
            db.replace(key, work.to_bytes())
        if sub == b"todense":
            return ONE if converted else ZERO
        return b"*%d\r\n" % hll.REGISTERS + b"".join(
            b":%d\r\n" % v for v in hll.dense_to_raw(work.dense or b""))
    if sub == b"decode":
        if not work.is_sparse:
            return errors.err("ERR HLL encoding is not sparse")
        return bulk(b" ".join(
            (b"v:%d,%d" % (v, n)) if kind == "v" else (b"%s:%d" % (kind.encode(), n))
            for kind, v, n in hll.sparse_runs(work.sparse_payload())))
    if sub == b"encoding":
        return b"+sparse\r\n" if work.is_sparse else b"+dense\r\n"
    return errors.err_bytes(b"ERR Unknown PFDEBUG subcommand '%s'" % errors.c_string(argv[1]))


@command("pfselftest")
def pfselftest(c: Context, argv: list[bytes]) -> bytes:
    """A shorter PFSELFTEST: the 6-bit register packing round-trips random values, and dense
    and sparse HLLs fed the same 10,000 elements agree and stay within Redis's error bound."""
    rng = random.Random()
    for _ in range(3):
        raw = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
        packed = hll.raw_to_dense(raw)
        unpacked = hll.dense_to_raw(packed)
        if unpacked != raw:
            index = next(i for i in range(hll.REGISTERS) if unpacked[i] != raw[i])
            return errors.err(f"TESTFAILED Register {index} should be {raw[index]} "
                              f"but is {unpacked[index]}")
    dense = hll.Hll(hll.EMPTY)
    dense.to_dense()
    sparse = hll.Hll(hll.EMPTY)
    max_sparse = c.server.config.hll_sparse_max_bytes
    relerr = 1.04 / hll.REGISTERS ** 0.5
    seed = rng.getrandbits(64)
    checkpoint = 1
    for j in range(1, 10_001):
        element = (j ^ seed).to_bytes(8, "little")
        dense.add_all([element], max_sparse)
        sparse.add_all([element], max_sparse)
        if j != checkpoint:
            continue
        if j < max_sparse // 2 and not sparse.is_sparse:
            return errors.err("TESTFAILED sparse encoding not used")
        estimate = hll.count(dense.histogram())
        if estimate != hll.count(sparse.histogram()):
            return errors.err("TESTFAILED dense/sparse disagree")
        maxerr = 1 if j == 10 else math.ceil(relerr * 6 * checkpoint)
        if abs(checkpoint - estimate) > maxerr:
            return errors.err(f"TESTFAILED Too big error. card:{checkpoint} "
                              f"abserr:{abs(checkpoint - estimate)}")
        checkpoint *= 10
    return OK
