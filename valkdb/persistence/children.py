"""The forked child that writes a snapshot (BGSAVE) or a new AOF base (BGREWRITEAOF).

As in Redis, at most one child runs at a time, the parent keeps serving while it writes the
dataset as it was at the fork (the kernel's copy-on-write does the snapshotting), and the parent
learns that it finished by polling waitpid from its cron (checkChildrenDone).

gevent and fork: the child never returns to the hub - it runs its work synchronously (no
greenlet switches: plain file I/O, no sockets) and leaves with os._exit, so the parent's
listeners, greenlets and threads mean nothing to it.
"""

from __future__ import annotations

import gc
import os
import signal
import time
import traceback
import warnings
from collections.abc import Callable


class Child:
    __slots__ = ("kind", "pid", "started")

    def __init__(self, kind: str, pid: int) -> None:
        self.kind = kind  # "rdb" or "aof"
        self.pid = pid
        self.started = time.monotonic()


class Children:
    def __init__(self, inherited: Callable[[], list[int]] = list) -> None:
        self.active: Child | None = None
        self._inherited = inherited  # descriptors the child closes before it works

    def running(self, kind: str) -> bool:
        return self.active is not None and self.active.kind == kind

    def fork(self, kind: str, work: Callable[[], None]) -> int:
        """Run work() in a forked child; its pid. The child exits 0 if work returned."""
        inherited = self._inherited()
        with warnings.catch_warnings():
            # Python 3.12+ warns when a process with threads forks. The only other threads
            # here are gevent's pool running fdatasync, which holds no lock the child needs.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child
            status = 1
            try:
                # The collector would touch every object, copying the parent's pages for
                # nothing: the child allocates little and exits soon.
                gc.disable()
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGUSR1, signal.SIG_DFL)  # how the parent stops it
                for fd in inherited:
                    os.close(fd)
                work()
                status = 0
            except BaseException:  # noqa: BLE001 - reported through the exit status
                traceback.print_exc()
            finally:
                os._exit(status)
        self.active = Child(kind, pid)
        return pid

    def poll(self) -> tuple[Child, int, int] | None:
        """The finished child with (exit code, terminating signal), or None while it runs."""
        child = self.active
        if child is None:
            return None
        try:
            pid, status = os.waitpid(child.pid, os.WNOHANG)
        except ChildProcessError:  # already reaped
            pid, status = child.pid, 1 << 8
        if pid == 0:
            return None
        self.active = None
        if os.WIFSIGNALED(status):
            return child, 1, os.WTERMSIG(status)
        return child, os.WEXITSTATUS(status), 0

    def kill(self) -> Child | None:
        """Stop the running child (FLUSHALL, SHUTDOWN) with SIGUSR1, which Redis does not
        count as a failure, and reap it."""
        child = self.active
        if child is None:
            return None
        try:
            os.kill(child.pid, signal.SIGUSR1)
            os.waitpid(child.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self.active = None
        return child
