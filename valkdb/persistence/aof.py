"""Redis 7.0's multi-part append-only file, at the file level: the manifest, the directory that
holds the BASE/INCR/HISTORY files, reading and writing RESP command files, and `check-aof`.

Files written here load in redis-server 7.0.15 and files it writes load here, so the rules are
Redis's own (src/aof.c, src/redis-check-aof.c, src/sds.c of 7.0.15), down to its leniency: the
loader reads lines with fgets() into a 1024-byte buffer, parses counts with atoi()/strtol() and
never checks the CRLF after a bulk, while redis-check-aof is stricter and reports byte offsets
and line numbers. Both parsers are reproduced separately for that reason.

Nothing here holds server state: the server decides when to open, write, fsync, rewrite and
which file to load, and executes the commands (MULTI/EXEC included) itself.
"""

from __future__ import annotations

import copy
import errno
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import BinaryIO, NoReturn

import hiredis

from valkdb.config.parsing import repr_bytes
from valkdb.errors import AofError
from valkdb.protocol.encoder import bulk_array
from valkdb.protocol.reader import split_args

BASE = "b"
HISTORY = "h"
INCR = "i"

MANIFEST_SUFFIX = ".manifest"
TEMP_PREFIX = "temp-"
MANIFEST_MAX_LINE = 1024  # MANIFEST_MAX_LINE: fgets(buf, 1024 + 1)
LOADER_LINE_MAX = 1023  # AOF_ANNOTATION_LINE_MAX_LEN 1024: fgets() keeps one byte for the NUL
CHECKER_LINE_MAX = 127  # redis-check-aof's readLong(): char buf[128]

_CHUNK = 1 << 20
_HIREDIS_FEED = 1 << 16  # hiredis moves its buffer along per reply: feed it in small pieces
_HIREDIS_FIRST_FEED = 1 << 12
_EXACT_RUN = 64  # after an anomaly, items parsed exactly before hiredis is tried again
_MULTI_EXEC = frozenset((b"multi", b"exec"))
_LONG_MAX = (1 << 63) - 1
_LONG_MIN = -(1 << 63)
_C_SPACE = b" \t\n\v\f\r"
_C_LONG = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)")

MANIFEST_ERROR_BANNER = "\n*** FATAL AOF MANIFEST FILE ERROR ***\n"


class ManifestError(AofError):
    """A manifest Redis refuses to load; `log_messages` are its serverLog() calls, in order."""

    def __init__(self, message: str, line_number: int | None = None,
                 line: str | None = None) -> None:
        super().__init__(message)
        self.log_messages = [MANIFEST_ERROR_BANNER]
        if line is not None:
            self.log_messages += [f"Reading the manifest file, at line {line_number}\n",
                                  f">>> '{line}'\n"]
        self.log_messages.append(f"{message}\n")


class AofWriteError(AofError):
    """A failed or short write (flushAppendOnlyFile). `errno` is what Redis records for
    `-MISCONF Errors writing to the AOF file: <strerror>` (ENOSPC for a short write); `kept` is
    how many bytes of the data stayed in the file because the short write could not be cut
    off again: the caller drops them from its buffer and retries the rest later."""

    def __init__(self, messages: list[str], err: int, kept: int) -> None:
        super().__init__(messages[0])
        self.messages = messages
        self.errno = err
        self.kept = kept


def bad_format_message(name: str) -> str:
    return (f"Bad file format reading the append only file {name}: make a backup of your AOF "
            "file, then use ./redis-check-aof --fix <filename.manifest>")


def unexpected_eof_message(name: str) -> str:
    return (f"Unexpected end of file reading the append only file {name}. You can: 1) Make a "
            "backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. "
            "2) Alternatively you can set the 'aof-load-truncated' configuration option to yes "
            "and restart the server.")


# --- C library behaviour the file formats depend on ---------------------------------------------

def _c_string(data: bytes) -> bytes:
    """What C code sees of a buffer: everything before the first NUL."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


def _strtol(data: bytes) -> tuple[int, int]:
    """strtol(data, &end, 10): the value (clamped to a C long) and the index `end` points to."""
    match = _C_LONG.match(_c_string(data))
    if match is None:
        return 0, 0
    return min(max(int(match.group(1)), _LONG_MIN), _LONG_MAX), match.end()


def _atoi(data: bytes) -> int:
    """atoi(): glibc's (int) strtol(), keeping the low 32 bits."""
    value = _strtol(data)[0] & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _is_space(byte: int) -> bool:
    return byte in _C_SPACE


def _is_print(byte: int) -> bool:
    return 0x20 <= byte <= 0x7E


def _needs_repr(name: bytes) -> bool:
    """sdsneedsrepr(); note that a single quote does not count."""
    return any(b in b'\\"\n\r\t\a\b' or not _is_print(b) or _is_space(b) for b in name)


def _manifest_lines(text: bytes) -> Iterator[bytes]:
    """The pieces fgets(buf, MANIFEST_MAX_LINE + 1) returns: lines, long ones cut in 1024s."""
    pos = 0
    while pos < len(text):
        newline = text.find(b"\n", pos, pos + MANIFEST_MAX_LINE)
        end = newline + 1 if newline >= 0 else min(len(text), pos + MANIFEST_MAX_LINE)
        yield text[pos:end]
        pos = end


# --- the manifest --------------------------------------------------------------------------------

@dataclass
class AofInfo:
    name: str
    seq: int
    kind: str  # BASE 'b', HISTORY 'h' or INCR 'i'

    def format(self) -> bytes:
        """aofInfoFormat(): `file <name> seq <n> type <t>\\n`, the name quoted if it must be."""
        name = os.fsencode(self.name)
        return b"file %s seq %d type %s\n" % (repr_bytes(name) if _needs_repr(name) else name,
                                              self.seq, self.kind.encode())


@dataclass
class Manifest:
    """aofManifest: at most one BASE, then HISTORY files, then INCR files by rising seq.

    base_seq and incr_seq are the last sequence numbers handed out (curr_base_file_seq and
    curr_incr_file_seq); `dirty` says the manifest changed since it was read or written."""

    base: AofInfo | None = None
    history: list[AofInfo] = field(default_factory=list)
    incrs: list[AofInfo] = field(default_factory=list)
    base_seq: int = 0
    incr_seq: int = 0
    dirty: bool = field(default=False, compare=False)

    @classmethod
    def parse(cls, text: bytes) -> Manifest:
        """aofLoadManifestFromFile(): raises ManifestError with Redis's messages."""
        manifest = cls()
        line_number = 0
        for piece in _manifest_lines(text):
            line_number += 1
            data = _c_string(piece)
            if data[:1] == b"#":
                continue
            if b"\n" not in data:
                raise ManifestError("The AOF manifest file contains too long line")
            line = data.strip(b" \t\r\n")
            shown = line.decode(errors="replace")
            args = split_args(line) if line else None
            if args is None or len(args) < 6 or len(args) % 2:
                raise ManifestError("Invalid AOF manifest file format", line_number, shown)
            name: bytes | None = None
            seq = 0
            kind = b""
            for key, value in zip(args[::2], args[1::2], strict=True):
                key = key.lower()
                if key == b"file":
                    name = _c_string(value)
                    if b"/" in name or b"\\" in name:
                        raise ManifestError("File can't be a path, just a filename",
                                            line_number, shown)
                elif key == b"seq":
                    seq = _strtol(value)[0]  # atoll()
                elif key == b"type":
                    kind = _c_string(value)[:1]
            if name is None or not seq or not kind:
                raise ManifestError("Invalid AOF manifest file format", line_number, shown)
            info = AofInfo(os.fsdecode(name), seq, kind.decode("latin-1"))
            if info.kind == BASE:
                if manifest.base is not None:
                    raise ManifestError("Found duplicate base file information",
                                        line_number, shown)
                manifest.base = info
                manifest.base_seq = seq
            elif info.kind == HISTORY:
                manifest.history.append(info)
            elif info.kind == INCR:
                if seq <= manifest.incr_seq:
                    raise ManifestError("Found a non-monotonic sequence number",
                                        line_number, shown)
                manifest.incrs.append(info)
                manifest.incr_seq = seq
            else:
                raise ManifestError("Unknown AOF file type", line_number, shown)
        if line_number == 0:
            raise ManifestError("Found an empty AOF manifest")
        return manifest

    def format(self) -> bytes:
        """getAofManifestAsString(): base, then history, then incr lines."""
        infos = ([self.base] if self.base else []) + self.history + self.incrs
        return b"".join(info.format() for info in infos)

    def files(self) -> list[AofInfo]:
        """The files to load, in order: the base, then the incr files."""
        return ([self.base] if self.base else []) + list(self.incrs)

    def copy(self) -> Manifest:
        """aofManifestDup(): changes are made on a copy, adopted once they are on disk."""
        return copy.deepcopy(self)


# --- the directory -------------------------------------------------------------------------------

def fsync_dir_of(path: str) -> None:
    """fsyncFileDir(): make a rename or a new file in the directory of `path` durable."""
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EBADF, errno.EINVAL):  # filesystems that can't fsync a dir
            raise
    finally:
        os.close(fd)


class AofFile:
    """An AOF file open for appending: the write and truncate work of flushAppendOnlyFile."""

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name
        self.size = os.fstat(fd).st_size  # aof_last_incr_size: what is known to be complete

    def write(self, data: bytes) -> None:
        """aofWrite() all of `data` (retrying partial writes); after a short write, cut the file
        back to its last good size as Redis does. Raises AofWriteError (Redis's log lines)."""
        view = memoryview(data)
        written = 0
        failure: OSError | None = None
        while written < len(data):
            try:
                written += os.write(self.fd, view[written:])
            except InterruptedError:
                continue
            except OSError as exc:
                failure = exc
                break
        if failure is None:
            self.size += written
            return
        if written == 0:
            raise AofWriteError([f"Error writing to the AOF file: {failure.strerror}"],
                                failure.errno or errno.EIO, 0)
        messages = ["Short write while writing to the AOF file: "
                    f"(nwritten={written}, expected={len(data)})"]
        try:
            os.ftruncate(self.fd, self.size)
            written = 0
        except OSError as exc:
            messages.append("Could not remove short write from the append-only file.  Redis "
                            "may refuse to load the AOF the next time it starts.  "
                            f"ftruncate: {exc.strerror}")
            self.size += written
        raise AofWriteError(messages, errno.ENOSPC, written)

    def fsync(self) -> None:
        """redis_fsync(): fdatasync on Linux (the data, not the metadata)."""
        os.fdatasync(self.fd)

    def close(self) -> None:
        os.close(self.fd)


class AofDirectory:
    """The appenddirname directory: reads/writes the manifest, names new files.

    Redis's sequences, with the methods that do their file work:
    - start-up: load_manifest() (None: no dir or no manifest), needs_upgrade()/upgrade() for an
      old single-file AOF, sizes() (fatal if a listed file is missing), each file read with
      AofFileReader (a base may be an RDB: is_rdb()), then open_on_start() for appending;
    - BGREWRITEAOF: open_new_incr() before forking (or open_temp_incr() while AOF is being
      turned on), the child writes rewrite_temp_path(pid) (RDB or RESP), then finish_rewrite()
      makes it the new BASE, turns the rewritten INCRs into HISTORY and deletes them
      (delete_history(), skipped with aof-disable-auto-gc); a failed rewrite changes nothing.
    Log lines are Redis's, on the "valkdb" logger (INFO is Redis's notice level)."""

    def __init__(self, dir: str, appenddirname: str, appendfilename: str,
                 log: logging.Logger | None = None) -> None:
        self.dir = dir
        self.path_of_dir = os.path.join(dir, appenddirname)
        self.dirname = appenddirname
        self.appendfilename = appendfilename
        self.manifest_name = appendfilename + MANIFEST_SUFFIX
        self.log = log or logging.getLogger("valkdb")

    @property
    def manifest_path(self) -> str:
        return os.path.join(self.path_of_dir, self.manifest_name)

    def path(self, info: AofInfo) -> str:
        return os.path.join(self.path_of_dir, info.name)

    def temp_incr_path(self) -> str:
        """getTempIncrAofName(): the INCR file written while AOF is being switched on."""
        return os.path.join(self.path_of_dir, f"{TEMP_PREFIX}{self.appendfilename}.incr")

    def rewrite_temp_path(self, pid: int) -> str:
        """Where the rewrite child writes the new base (in `dir`, renamed into the directory)."""
        return os.path.join(self.dir, f"temp-rewriteaof-bg-{pid}.aof")

    def load_manifest(self) -> Manifest | None:
        """aofLoadManifestFromDisk(): None without the directory or the manifest."""
        path = self.manifest_path
        if not os.path.isdir(self.path_of_dir) or not os.path.exists(path):
            return None
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError as exc:
            shown = os.path.join(self.dirname, self.manifest_name)
            raise ManifestError("Fatal error: can't open the AOF manifest file "
                                f"{shown} for reading: {exc.strerror}") from exc
        return Manifest.parse(text)

    def write_manifest(self, manifest: Manifest) -> None:
        """writeAofManifestFile(): temp file, fsync, rename, fsync the directory. Raises
        AofError with Redis's log message; the manifest on disk is then unchanged."""
        temp_name = TEMP_PREFIX + self.manifest_name
        temp_path = os.path.join(self.path_of_dir, temp_name)
        try:
            fd = os.open(temp_path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        except OSError as exc:
            raise AofError(f"Can't open the AOF manifest file {temp_name}: "
                           f"{exc.strerror}") from exc
        step = "write"
        try:
            data = memoryview(manifest.format())
            while data:
                data = data[os.write(fd, data):]
            step = "fsync"
            os.fsync(fd)
            step = "rename"
            os.rename(temp_path, self.manifest_path)
            step = "fsync dir"
            fsync_dir_of(self.manifest_path)
        except OSError as exc:
            raise AofError({
                "write": f"Error trying to write the temporary AOF manifest file {temp_name}: "
                         f"{exc.strerror}",
                "fsync": f"Fail to fsync the temp AOF file {temp_name}: {exc.strerror}.",
                "rename": "Error trying to rename the temporary AOF manifest file "
                          f"{temp_name} into {self.manifest_name}: {exc.strerror}",
                "fsync dir": f"Fail to fsync AOF directory {self.manifest_path}: "
                             f"{exc.strerror}.",
            }[step]) from exc
        finally:
            os.close(fd)
        manifest.dirty = False

    def persist(self, manifest: Manifest) -> None:
        """persistAofManifest(): write the manifest if it changed."""
        if manifest.dirty:
            self.write_manifest(manifest)

    def new_incr(self, manifest: Manifest) -> AofInfo:
        """getNewIncrAofName(): `<appendfilename>.<seq>.incr.aof`, appended to the incrs."""
        manifest.incr_seq += 1
        info = AofInfo(f"{self.appendfilename}.{manifest.incr_seq}.incr.aof",
                       manifest.incr_seq, INCR)
        manifest.incrs.append(info)
        manifest.dirty = True
        return info

    def new_base(self, manifest: Manifest, rdb_format: bool) -> AofInfo:
        """getNewBaseFileNameAndMarkPreAsHistory(): `<appendfilename>.<seq>.base.rdb|.aof`;
        the previous base goes first in the history."""
        if manifest.base is not None:
            manifest.base.kind = HISTORY
            manifest.history.insert(0, manifest.base)
        manifest.base_seq += 1
        suffix = ".rdb" if rdb_format else ".aof"
        manifest.base = AofInfo(f"{self.appendfilename}.{manifest.base_seq}.base{suffix}",
                                manifest.base_seq, BASE)
        manifest.dirty = True
        return manifest.base

    @staticmethod
    def mark_rewritten_incrs_as_history(manifest: Manifest, aof_enabled: bool) -> None:
        """markRewrittenIncrAofAsHistory(): every incr but the one being written (when AOF is
        on) becomes history, ahead of the existing history, in seq order."""
        keep = manifest.incrs[-1:] if aof_enabled else []
        rewritten = manifest.incrs[:len(manifest.incrs) - len(keep)]
        for info in rewritten:
            info.kind = HISTORY
        manifest.history[:0] = rewritten
        manifest.incrs = keep
        manifest.dirty = True

    def delete_history(self, manifest: Manifest, disable_auto_gc: bool = False) -> None:
        """aofDelHistoryFiles(): unlink the history files and drop them from the manifest.
        A failure here harms nothing (Redis ignores it), so it is only logged."""
        if disable_auto_gc or not manifest.history:
            return
        for info in manifest.history:
            self.log.info("Removing the history file %s in the background", info.name)
        self._unlink_quietly([self.path(info) for info in manifest.history])
        manifest.history = []
        manifest.dirty = True
        try:
            self.persist(manifest)
        except AofError as exc:
            self.log.warning("%s", exc)

    def sizes(self, manifest: Manifest) -> list[tuple[AofInfo, int]]:
        """getBaseAndIncrAppendOnlyFilesSize(): each file to load with its size; a listed file
        that can't be stat'ed is fatal."""
        sized = []
        for info in manifest.files():
            try:
                sized.append((info, os.stat(self.path(info)).st_size))
            except OSError as exc:
                raise AofError(f"Unable to obtain the AOF file {info.name} length. stat: "
                               f"{exc.strerror}") from exc
        return sized

    def needs_upgrade(self, manifest: Manifest | None) -> bool:
        """loadAppendOnlyFiles(): an old single-file AOF in `dir` is moved into the directory
        when there is no directory, no manifest with files, or only an interrupted upgrade."""
        if not os.path.exists(os.path.join(self.dir, self.appendfilename)):
            return False
        if manifest is None or (manifest.base is None and not manifest.incrs):
            return True
        return (manifest.base is not None and not manifest.incrs
                and manifest.base.name == self.appendfilename
                and not os.path.exists(self.path(manifest.base)))

    def upgrade(self, manifest: Manifest | None) -> Manifest:
        """aofUpgradePrepare(): the old file becomes base seq 1 (manifest written first, so a
        crash in between is retried at the next start)."""
        os.makedirs(self.path_of_dir, exist_ok=True)
        manifest = manifest.copy() if manifest else Manifest()
        manifest.base = AofInfo(self.appendfilename, 1, BASE)
        manifest.base_seq = 1
        manifest.dirty = True
        self.write_manifest(manifest)
        try:
            os.rename(os.path.join(self.dir, self.appendfilename),
                      os.path.join(self.path_of_dir, self.appendfilename))
        except OSError as exc:
            raise AofError(f"Error trying to move the old AOF file {self.appendfilename} into "
                           f"dir {self.dirname}: {exc.strerror}") from exc
        self.log.info("Successfully migrated an old-style AOF file (%s) into the AOF directory "
                      "(%s).", self.appendfilename, self.dirname)
        return manifest

    def open_on_start(self, manifest: Manifest, write_base: Callable[[str, bool], None],
                      rdb_format: bool) -> AofFile:
        """aofOpenIfNeededOnServerStart(): with no file at all, write a base first
        (write_base(path, rdb_format) writes the whole dataset there atomically); then open the
        last incr (or a new one) for appending and persist the manifest. Mutates `manifest`;
        errors are fatal at start (AofError)."""
        try:
            os.makedirs(self.path_of_dir, exist_ok=True)
        except OSError as exc:
            raise AofError(f"Can't open or create append-only dir {self.dirname}: "
                           f"{exc.strerror}") from exc
        existing_incr = bool(manifest.incrs)
        if manifest.base is None and not existing_incr:
            base = self.new_base(manifest, rdb_format)
            write_base(self.path(base), rdb_format)
            self.log.info("Creating AOF base file %s on server start", base.name)
        info = manifest.incrs[-1] if existing_incr else self.new_incr(manifest)
        try:
            fd = os.open(self.path(info), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise AofError(f"Can't open the append-only file {info.name}: "
                           f"{exc.strerror}") from exc
        try:
            self.persist(manifest)
        except AofError:
            os.close(fd)
            raise
        self.log.info("%s AOF incr file %s on server start",
                      "Opening" if existing_incr else "Creating", info.name)
        return AofFile(fd, info.name)

    def open_new_incr(self, manifest: Manifest) -> tuple[Manifest, AofFile]:
        """openNewIncrAofForAppend() with AOF on: a new, empty incr file on a copy of the
        manifest, persisted; the caller then adopts both and fsyncs+closes its old file. On
        failure (AofError) nothing changed."""
        updated = manifest.copy()
        info = self.new_incr(updated)
        try:
            fd = os.open(self.path(info), os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        except OSError as exc:
            raise AofError(f"Can't open the append-only file {info.name}: "
                           f"{exc.strerror}") from exc
        try:
            self.persist(updated)
        except AofError:
            os.close(fd)
            raise
        self.log.info("Creating AOF incr file %s on background rewrite", info.name)
        return updated, AofFile(fd, info.name)

    def open_temp_incr(self) -> AofFile:
        """openNewIncrAofForAppend() while AOF is being turned on (AOF_WAIT_REWRITE): commands
        go to a temp incr file that finish_rewrite(temp_incr=True) names and adds."""
        name = os.path.basename(self.temp_incr_path())
        try:
            fd = os.open(self.temp_incr_path(), os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        except OSError as exc:
            raise AofError(f"Can't open the append-only file {name}: {exc.strerror}") from exc
        self.log.info("Creating AOF incr file %s on background rewrite", name)
        return AofFile(fd, name)

    def finish_rewrite(self, manifest: Manifest, temp_base_path: str, rdb_format: bool,
                       aof_enabled: bool, temp_incr: bool = False,
                       disable_auto_gc: bool = False) -> Manifest:
        """backgroundRewriteDoneHandler() after the child succeeded: the temp file becomes the
        new base, the temp incr (temp_incr=True) a new incr, the rewritten incrs history; the
        manifest is persisted and the history deleted. aof_enabled: an incr file is open for
        appending (AOF on, or being turned on), so the last incr stays. Returns the manifest
        to adopt; raises AofError (Redis's log line) leaving the old manifest and files in
        force."""
        updated = manifest.copy()
        base = self.new_base(updated, rdb_format)
        base_path = self.path(base)
        try:
            os.rename(temp_base_path, base_path)
        except OSError as exc:
            raise AofError(f"Error trying to rename the temporary AOF base file "
                           f"{os.path.basename(temp_base_path)} into {base_path}: "
                           f"{exc.strerror}") from exc
        self.log.info("Successfully renamed the temporary AOF base file %s into %s",
                      os.path.basename(temp_base_path), base.name)
        new_files = [base_path]
        if temp_incr:
            incr = self.new_incr(updated)
            try:
                os.rename(self.temp_incr_path(), self.path(incr))
            except OSError as exc:
                self._unlink_quietly(new_files)
                raise AofError(f"Error trying to rename the temporary AOF incr file "
                               f"{self.temp_incr_path()} into {self.path(incr)}: "
                               f"{exc.strerror}") from exc
            new_files.append(self.path(incr))
            self.log.info("Successfully renamed the temporary AOF incr file %s into %s",
                          os.path.basename(self.temp_incr_path()), incr.name)
        self.mark_rewritten_incrs_as_history(updated, aof_enabled)
        try:
            self.persist(updated)
        except AofError:
            self._unlink_quietly(new_files)
            raise
        self.delete_history(updated, disable_auto_gc)
        return updated

    @staticmethod
    def _unlink_quietly(paths: list[str]) -> None:
        for path in paths:
            try:
                os.unlink(path)
            except OSError:
                pass

    def truncate_short_read(self, reader: AofFileReader, info: AofInfo, load_truncated: bool,
                            last_file: bool) -> None:
        """The loader's uxeof: with aof-load-truncated, log Redis's warnings and cut the file
        back to its last complete command; otherwise, if that fails, or if this is not the
        last file of the manifest (checked after truncating, as Redis does), raise AofError."""
        if reader.reverted_multi:
            self.log.warning("Revert incomplete MULTI/EXEC transaction in AOF file %s",
                             info.name)
        if load_truncated:
            self.log.warning("!!! Warning: short read while loading the AOF file %s!!!",
                             info.name)
            self.log.warning("!!! Truncating the AOF %s at offset %d !!!", info.name,
                             reader.valid_up_to)
            try:
                os.truncate(self.path(info), reader.valid_up_to)
            except OSError as exc:
                self.log.warning("Error truncating the AOF file %s: %s", info.name,
                                 exc.strerror)
            else:
                self.log.warning("AOF %s loaded anyway because aof-load-truncated is enabled",
                                 info.name)
                if last_file:
                    return
                raise AofError("Fatal error: the truncated file is not the last file")
        raise AofError(unexpected_eof_message(info.name))


# --- writing commands ----------------------------------------------------------------------------

# catAppendOnlyGenericCommand(): a command is an array of bulk strings, as a reply encodes it.
encode_command = bulk_array


def select_command(db: int) -> bytes:
    """The SELECT feedAppendOnlyFile() writes when the db changes."""
    return bulk_array([b"SELECT", b"%d" % db])


SELECT_DB0 = select_command(0)


def timestamp_annotation(unix_seconds: int) -> bytes:
    """aof-timestamp-enabled: `#TS:<seconds>\\r\\n`, skipped by loaders."""
    return b"#TS:%d\r\n" % unix_seconds


def is_rdb(f: BinaryIO) -> bool:
    """Whether a base file (or an old AOF with preamble) starts with an RDB: `REDIS`. Leaves `f`
    at offset 0."""
    f.seek(0)
    signature = f.read(5)
    f.seek(0)
    return signature == b"REDIS"


# --- reading commands ----------------------------------------------------------------------------

def _canonical_prefix(buf: bytes, at: int, replies: list) -> list[int]:
    """The sizes of the leading replies that are commands whose canonical RESP encoding is what
    buf holds from `at` on: for those, Redis's lenient parser reads exactly the same."""
    try:
        packed = list(map(hiredis.pack_command, map(tuple, replies)))
        if all(replies) and buf.startswith(b"".join(packed), at):
            return list(map(len, packed))
    except TypeError:  # not a list of bulk strings
        pass
    sizes = []
    for reply in replies:
        try:
            encoded = hiredis.pack_command(tuple(reply)) if reply else b""
        except TypeError:
            encoded = b""
        if not encoded or not buf.startswith(encoded, at):
            break
        sizes.append(len(encoded))
        at += len(encoded)
    return sizes


def _canonical_commands(buf: bytes, pos: int) -> tuple[list[list[bytes]], int, bool]:
    """The canonical commands at buf[pos:], their size, and whether parsing stopped only
    for want of data (False: what is at buf[pos + size] needs the exact parser)."""
    reader = hiredis.Reader()
    gets = reader.gets
    commands: list[list[bytes]] = []
    size = 0
    fed = pos
    piece = _HIREDIS_FIRST_FEED  # small: after an anomaly the next one is often close
    while fed < len(buf):
        length = min(piece, len(buf) - fed)
        reader.feed(buf, fed, length)
        fed += length
        piece = _HIREDIS_FEED
        replies: list = []
        clean = True
        try:
            while (reply := gets()) is not False:
                replies.append(reply)
        except hiredis.ProtocolError:
            clean = False
        verified = _canonical_prefix(buf, pos + size, replies)
        commands += replies[:len(verified)]
        size += sum(verified)
        if not clean or len(verified) < len(replies):
            return commands, size, False
    return commands, size, True


class AofFileReader:
    """The commands of one RESP AOF file, read as loadSingleAppendOnlyFile() reads them.

    commands() yields each command's argv, MULTI and EXEC included: the caller executes them as
    Redis's AOF client does (everything after MULTI, a nested MULTI too, is queued until EXEC;
    an EXEC without MULTI does nothing). It raises AofError
    for what Redis calls a bad format. When it finishes, `truncated` says whether Redis would
    treat the file as cut short (an incomplete command at the end, or a MULTI never followed by
    EXEC: `reverted_multi`), and `valid_up_to` is the offset Redis truncates the file to; queued
    commands of an unfinished MULTI must then be dropped, not executed.

    `offset` is where the RESP part starts (after an RDB preamble). Well-formed input is parsed
    by hiredis and checked byte for byte against its canonical encoding; anything else
    (annotations, odd spacing, bad data) goes through an exact model of Redis's parser."""

    def __init__(self, f: BinaryIO, name: str, offset: int = 0) -> None:
        self.name = name
        self.valid_up_to = offset
        self.truncated = False
        self.reverted_multi = False
        self._f = f
        self._start = offset
        self._in_multi = False
        self._before_multi = offset

    def commands(self) -> Iterator[list[bytes]]:
        self._f.seek(self._start)
        buf = b""
        base = self._start  # file offset of buf[0]
        pos = 0
        eof = False
        exact_run = 0  # items left to parse exactly after something hiredis could not take
        while True:
            if not exact_run:
                fast, size, clean = _canonical_commands(buf, pos)
                if fast:
                    pos += size
                    self._track_batch(fast, base + pos, size)
                    yield from fast
                if clean and not eof:
                    buf, base, pos, eof = self._read_more(buf, base, pos)
                    continue
                if not clean:
                    exact_run = _EXACT_RUN
            step, end, argv = self._exact_step(buf, pos, eof)
            if step == "more":
                buf, base, pos, eof = self._read_more(buf, base, pos)
                continue
            exact_run = max(exact_run - 1, 0)
            if step == "command":
                assert argv is not None
                pos = end
                self._track(argv, base + pos)
                yield argv
            elif step == "skip":
                pos = end
            elif step == "truncated":
                self.truncated = True
                return
            else:
                if self._in_multi:
                    self.truncated = self.reverted_multi = True
                    self.valid_up_to = self._before_multi
                return

    def _read_more(self, buf: bytes, base: int, pos: int) -> tuple[bytes, int, int, bool]:
        """Drop what was parsed and read on (at least as much as is pending, so a huge
        argument is read in a few doubling steps): (buf, its file offset, 0, at eof)."""
        chunk = self._f.read(max(_CHUNK, len(buf) - pos))
        return buf[pos:] + chunk, base + pos, 0, not chunk

    def _track(self, argv: list[bytes], end: int) -> None:
        command = argv[0].lower()
        if command == b"multi":
            self._before_multi = self.valid_up_to
            self._in_multi = True
        elif command == b"exec":
            self._in_multi = False
        self.valid_up_to = end

    def _track_batch(self, commands: list[list[bytes]], end: int, size: int) -> None:
        if not _MULTI_EXEC.isdisjoint(map(bytes.lower, map(itemgetter(0), commands))):
            offset = end - size
            for argv in commands:
                offset += len(encode_command(argv))
                self._track(argv, offset)
        self.valid_up_to = end

    @staticmethod
    def _line(buf: bytes, pos: int, eof: bool) -> tuple[bytes, int] | None:
        """fgets(buf, 1024) at pos: the line (b"" at the end of the file) and where the next
        read starts; None if more data must be read first."""
        newline = buf.find(b"\n", pos, pos + LOADER_LINE_MAX)
        if newline >= 0:
            return buf[pos:newline + 1], newline + 1
        if len(buf) - pos >= LOADER_LINE_MAX:
            return buf[pos:pos + LOADER_LINE_MAX], pos + LOADER_LINE_MAX
        if not eof:
            return None
        return buf[pos:], len(buf)

    def _exact_step(self, buf: bytes, pos: int,
                    eof: bool) -> tuple[str, int, list[bytes] | None]:
        """One item at buf[pos:] as Redis's loader reads it: (step, end, argv) with step
        "command" (argv read, next item at end), "skip" (an annotation), "end" (clean end of
        file), "truncated" (short read) or "more" (buf holds too little to tell). Raises
        AofError for a bad format."""
        read = self._line(buf, pos, eof)
        if read is None:
            return "more", pos, None
        line, p = read
        if not line:
            return "end", pos, None
        if line[0] == ord("#"):
            return "skip", p, None
        if line[0] != ord("*"):
            raise AofError(bad_format_message(self.name))
        if len(line) == 1 or line[1] == 0:
            if not line.endswith(b"\n") and len(line) < LOADER_LINE_MAX:  # fgets() hit the end
                return "truncated", pos, None
            raise AofError(f"Unrecoverable error reading the append only file {self.name}: "
                           "Success")
        argc = _atoi(line[1:])
        if argc < 1:
            raise AofError(bad_format_message(self.name))
        argv = []
        for _ in range(argc):
            read = self._line(buf, p, eof)
            if read is None:
                return "more", pos, None
            line, p = read
            if not line:
                return "truncated", pos, None
            if line[0] != ord("$"):
                raise AofError(bad_format_message(self.name))
            length = _strtol(line[1:])[0]
            if length < 0:  # Redis would try to allocate ~2**64 bytes and abort
                raise AofError(bad_format_message(self.name))
            if p + length + 2 > len(buf):
                return ("truncated" if eof else "more"), pos, None
            argv.append(buf[p:p + length])
            p += length + 2  # the CRLF after a bulk is skipped, not checked
        return "command", p, argv


# --- check-aof -----------------------------------------------------------------------------------

class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


_CHECK_OK, _CHECK_EMPTY, _CHECK_TRUNCATED, _CHECK_TIMESTAMP_TRUNCATED = range(4)


def _char(byte: int) -> str:
    return bytes([byte]).decode("latin-1")


def _hex_char(byte: int) -> str:
    """printf("%02x") of a (signed) char."""
    return f"{byte:02x}" if byte < 0x80 else f"ffffff{byte:02x}"


class _AofChecker:
    """redis-check-aof 7.0.15 (src/redis-check-aof.c), printing into `lines`."""

    def __init__(self, fix: bool, to_timestamp: int) -> None:
        self.fix = fix
        self.to_timestamp = to_timestamp
        self.lines: list[str] = []
        self.error = ""
        self.epos = 0
        self.line = 1  # like Redis's static counter: it runs on across the files of a manifest
        self.argc_buffer = bytearray(CHECKER_LINE_MAX + 1)  # readLong()'s stack buffer
        self.multi = 0  # of the file being checked: MULTIs without their EXEC
        self.ok_up_to = 0  # where its last command outside a MULTI/EXEC started

    def out(self, text: str) -> None:
        self.lines.append(text)

    def fail(self, text: str) -> NoReturn:
        self.out(text)
        raise _Exit(1)

    def set_error(self, text: str) -> None:
        self.error = f"0x{self.epos:16x}: {text}"

    # readLong / readBytes / readString / processRESP on a whole file held in memory
    def consume_newline(self, data: bytes, at: int) -> bool:
        if data[at:at + 2] != b"\r\n":
            self.set_error(f"Expected \\r\\n, got: {_hex_char(data[at])}{_hex_char(data[at + 1])}")
            return False
        self.line += 1
        return True

    def read_long(self, data: bytes, pos: int, prefix: str) -> tuple[int, int] | None:
        self.epos = pos
        if pos >= len(data):
            return None
        newline = data.find(b"\n", pos, pos + CHECKER_LINE_MAX)
        end = newline + 1 if newline >= 0 else min(len(data), pos + CHECKER_LINE_MAX)
        line = data[pos:end]
        # What C sees past the line's NUL: for the argc line, what that stack buffer held
        # before (seen in redis-check-aof's "Expected \r\n, got: 000d"); else zeros.
        if prefix == "*":
            self.argc_buffer[:len(line) + 1] = line + b"\0"
            view = bytes(self.argc_buffer) + b"\0"
        else:
            view = line + bytes(CHECKER_LINE_MAX + 2 - len(line))
        if line[0] != ord(prefix):
            self.set_error(f"Expected prefix '{prefix}', got: '{_char(line[0])}'")
            return None
        value, digits_end = _strtol(line[1:])
        if not self.consume_newline(view, 1 + digits_end):
            return None
        return value, end

    def read_string(self, data: bytes, pos: int) -> tuple[bytes, int] | None:
        header = self.read_long(data, pos, "$")
        if header is None:
            return None
        length, pos = header
        if length < 0 or length > _LONG_MAX - 2:
            self.set_error(f"Expected to read string of {length} bytes, which is not in the "
                           "suitable range")
            return None
        self.epos = pos
        real = min(length + 2, len(data) - pos)
        if real != length + 2:
            self.set_error(f"Expected to read {length + 2} bytes, got {real} bytes")
            return None
        if not self.consume_newline(data, pos + length):
            return None
        return data[pos:pos + length], pos + length + 2

    def process_resp(self, data: bytes, pos: int, path: str) -> int | None:
        header = self.read_long(data, pos, "*")
        if header is None:
            return None
        argc, pos = header
        for i in range(argc):
            read = self.read_string(data, pos)
            if read is None:
                return None
            arg, pos = read
            if i == 0:
                command = _c_string(arg).lower()
                if command == b"multi":
                    self.multi += 1
                    if self.multi > 1:
                        self.set_error(f"Unexpected MULTI in AOF {path}")
                        return None
                elif command == b"exec":
                    self.multi -= 1
                    if self.multi:
                        self.set_error(f"Unexpected EXEC in AOF {path}")
                        return None
        return pos

    def skip_canonical(self, data: bytes, pos: int) -> int:
        """Where the canonical commands from pos on end (short of a misplaced MULTI or EXEC,
        left to process_resp() for its error): for those, processRESP() only counts lines and
        follows MULTI/EXEC, as done here at C speed when the batch has neither."""
        commands, size, _ = _canonical_commands(data[pos:pos + _CHUNK], 0)
        if not commands:
            return pos
        names = b"".join(map(itemgetter(0), commands))
        if b"\0" not in names and _MULTI_EXEC.isdisjoint(
                map(bytes.lower, map(itemgetter(0), commands))):
            done = commands
            end = pos + size
        else:
            done = []
            end = pos
            for argv in commands:
                if not self.multi:
                    self.ok_up_to = end
                name = _c_string(argv[0]).lower()
                if name == b"multi":
                    if self.multi:
                        break
                    self.multi = 1
                elif name == b"exec":
                    if self.multi != 1:
                        break
                    self.multi = 0
                done.append(argv)
                end += len(encode_command(argv))
            if not done:
                return pos
        self.line += len(done) + 2 * sum(map(len, done))
        last = done[-1]
        self.epos = end - 2 - len(last[-1])  # readBytes() of the last argument
        header = b"*%d\r\n\0" % len(last)
        self.argc_buffer[:len(header)] = header
        return end

    def process_annotation(self, data: bytes, pos: int, path: str,
                           last_file: bool) -> int | None:
        """processAnnotations(): the next position, or None once truncated to the timestamp."""
        self.epos = pos
        newline = data.find(b"\n", pos, pos + LOADER_LINE_MAX)
        end = newline + 1 if newline >= 0 else min(len(data), pos + LOADER_LINE_MAX)
        line = _c_string(data[pos:end])
        if self.to_timestamp and line.startswith(b"#TS:"):
            stamp, digits_end = _strtol(line[4:])
            digits = _C_LONG.match(line[4:])
            if ((digits and not _LONG_MIN <= int(digits.group(1)) <= _LONG_MAX)
                    or line[4 + digits_end:5 + digits_end] != b"\r"):
                self.fail("Invalid timestamp annotation")
            if stamp <= self.to_timestamp:
                return end
            if pos == 0:
                self.fail(f"AOF {path} has nothing before timestamp {self.to_timestamp}, "
                          "aborting...")
            if not last_file:
                self.out(f"Failed to truncate AOF {path} to timestamp {self.to_timestamp} to "
                         f"offset {pos} because it is not the last file.")
                self.fail("If you insist, please delete all files after this file according "
                          "to the manifest file and delete the corresponding records in "
                          "manifest file manually. Then re-run redis-check-aof.")
            os.truncate(path, pos)
            return None
        return end

    def check_single(self, name: str, path: str, last_file: bool, preamble: bool) -> int:
        """checkSingleAof()."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            self.fail(f"Cannot open file {path}: {exc.strerror}, aborting...")
        if not data:
            return _CHECK_EMPTY
        pos = 0
        if preamble:
            pos = self.check_preamble(name, path)
        self.multi = 0
        self.ok_up_to = pos
        at_eof = False  # feof(): the input ran out, not a format error
        while True:
            if not self.multi:
                self.ok_up_to = pos
            if pos >= len(data):
                at_eof = True
                break
            first = data[pos]
            if first == ord("#"):
                after = self.process_annotation(data, pos, path, last_file)
                if after is None:
                    return _CHECK_TIMESTAMP_TRUNCATED
                pos = after
            elif first == ord("*"):
                after = self.skip_canonical(data, pos)
                if after > pos:
                    pos = after
                    continue
                after = self.process_resp(data, pos, path)
                if after is None:
                    at_eof = not self.error
                    break
                pos = after
            else:
                self.out(f"AOF {name} format error")
                break
        if at_eof and self.multi and not self.error:
            self.set_error("Reached EOF before reading EXEC for MULTI")
        if self.error:
            self.out(self.error)
        ok_up_to = self.ok_up_to
        diff = len(data) - ok_up_to
        if diff == 0 and self.to_timestamp:
            self.out(f"Truncate nothing in AOF {name} to timestamp {self.to_timestamp}")
            return _CHECK_OK
        self.out(f"AOF analyzed: filename={name}, size={len(data)}, ok_up_to={ok_up_to}, "
                 f"ok_up_to_line={self.line}, diff={diff}")
        if diff > 0:
            if not self.fix:
                self.fail(f"AOF {name} is not valid. Use the --fix option to try fixing it.")
            if not last_file:
                self.fail(f"Failed to truncate AOF {name} because it is not the last file")
            self.out(f"This will shrink the AOF {name} from {len(data)} bytes, with {diff} "
                     f"bytes, to {ok_up_to} bytes")
            try:
                os.truncate(path, ok_up_to)
            except OSError:
                self.fail(f"Failed to truncate AOF {name}")
            return _CHECK_TRUNCATED
        return _CHECK_OK

    def check_preamble(self, name: str, path: str) -> int:
        """redis_check_rdb_main() on the RDB part; returns where the AOF tail starts."""
        from types import SimpleNamespace

        from valkdb.persistence.rdb import RDBError, RDBReader, check_rdb

        ok, rdb_lines = check_rdb(path)
        # redis-check-aof hands redis-check-rdb the name, not the path, of a manifest's file
        header = f"[offset 0] Checking RDB file {path}"
        self.lines += [f"[offset 0] Checking RDB file {name}" if line == header else line
                       for line in rdb_lines]
        if not ok:
            self.fail("RDB preamble of AOF file is not sane, aborting.")
        # Redis's defaults: the encodings chosen do not matter here, only where the RDB ends.
        limits = SimpleNamespace(hash_max_listpack_entries=128, hash_max_listpack_value=64,
                                 set_max_intset_entries=512, zset_max_listpack_entries=128,
                                 zset_max_listpack_value=64)
        with open(path, "rb") as f:
            reader = RDBReader(f, limits)
            try:
                for _ in reader.records():
                    pass
            except RDBError:
                self.fail("RDB preamble of AOF file is not sane, aborting.")
            end = reader.position
        self.out("RDB preamble is OK, proceeding with AOF tail...")
        return end

    def report(self, result: int, name: str, kind: str) -> None:
        """printAofStyle()."""
        if result == _CHECK_OK:
            self.out(f"{kind} {name} is valid")
        elif result == _CHECK_EMPTY:
            self.out(f"{kind} {name} is empty")
        elif result == _CHECK_TIMESTAMP_TRUNCATED:
            self.out(f"Successfully truncated AOF {name} to timestamp {self.to_timestamp}")
        else:
            self.out(f"Successfully truncated AOF {name}")

    def check_multi_part(self, dirpath: str, manifest_path: str) -> None:
        self.out("Start checking Multi Part AOF")
        try:
            with open(manifest_path, "rb") as f:
                manifest = Manifest.parse(f.read())
        except OSError as exc:
            self.server_log("Fatal error: can't open the AOF manifest file "
                            f"{manifest_path} for reading: {exc.strerror}")
            raise _Exit(1) from exc
        except ManifestError as exc:
            for message in exc.log_messages:
                self.server_log(message)
            raise _Exit(1) from exc
        files = manifest.files()
        if manifest.base is not None:
            name = manifest.base.name
            path = f"{dirpath}/{name}"
            preamble = _file_is_rdb(path, self)
            self.out(f"Start to check BASE AOF ({'RDB' if preamble else 'RESP'} format).")
            self.report(self.check_single(name, path, len(files) == 1, preamble), name,
                        "BASE AOF")
        if manifest.incrs:
            self.out("Start to check INCR files.")
        for info in manifest.incrs:
            path = f"{dirpath}/{info.name}"
            self.report(self.check_single(info.name, path, info is files[-1], False),
                        info.name, "INCR AOF")
        self.out("All AOF files and manifest are valid")

    def server_log(self, message: str) -> None:
        """serverLog() from redis-check-aof: `pid:C date # message`, split into lines."""
        now = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now))
        text = f"{os.getpid()}:C {stamp}.{int(now * 1000) % 1000:03d} # {message}"
        self.lines += text.split("\n")


def _file_is_rdb(path: str, checker: _AofChecker) -> bool:
    """fileIsRDB(): at least 8 bytes, starting with REDIS."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        checker.fail(f"Cannot open file {path}: {exc.strerror}")
    return len(head) >= 8 and head.startswith(b"REDIS")


def _file_is_manifest(path: str, checker: _AofChecker) -> bool:
    """fileIsManifest(): any non-comment line starting with `file` (even in a RESP file)."""
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as exc:
        checker.fail(f"Cannot open file {path}: {exc.strerror}")
    return any(piece[:4] == b"file" for piece in _manifest_lines(text))


def check_aof(path: str, fix: bool, truncate_to_timestamp: int = 0) -> tuple[int, list[str]]:
    """redis-check-aof [--fix | --truncate-to-timestamp <ts>] <file.manifest | file.aof>.

    Returns (exit code, printed lines). --fix truncates the (last) file without asking: Redis
    prompts "Continue? [y/N]:" first, here the caller's --fix is the answer."""
    checker = _AofChecker(fix, truncate_to_timestamp)
    try:
        if _file_is_manifest(path, checker):
            checker.check_multi_part(os.path.dirname(path) or ".", path)
        else:
            checker.out("Start checking Old-Style AOF")
            preamble = _file_is_rdb(path, checker)
            checker.report(checker.check_single(path, path, True, preamble), path, "AOF")
    except _Exit as done:
        return done.code, checker.lines
    return 0, checker.lines


def check_aof_main(args: list[str], prog: str = "valkdb check-aof") -> tuple[int, list[str]]:
    """redis_check_aof_main(): the command-line arguments after the program name."""
    if len(args) == 1:
        return check_aof(args[0], False)
    if len(args) == 2 and args[0] == "--fix":
        return check_aof(args[1], True)
    if len(args) == 3 and args[0] == "--truncate-to-timestamp":
        match = re.fullmatch(r"[ \t\n\v\f\r]*[+-]?[0-9]+", args[1])
        value = int(args[1]) if match else 0
        if not match or not _LONG_MIN <= value <= _LONG_MAX:
            return 1, ["Invalid timestamp, aborting..."]
        return check_aof(args[2], False, value)
    return 1, [f"Usage: {prog} [--fix|--truncate-to-timestamp $timestamp] "
               "<file.manifest|file.aof>"]
