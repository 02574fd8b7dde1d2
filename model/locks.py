"""Locks between processes: one holder at a time (:class:`FileLock`), or ``n`` at a time (:class:`Slots`).

A lock is a file. Its holder keeps an exclusive ``flock`` on it and writes a record into it (pid, host, since,
what it is doing), which a process that finds the lock busy reads to say who holds it. The kernel releases a
flock when its process exits, however it exits (SIGKILL, OOM, power loss releases every lock), so a crashed
holder never blocks anyone: its lock is free at once, and the record it could not clear says who left it
(:meth:`FileLock.acquire` returns that record so the caller can say it took over a stale lock). A holder that
finishes clears the record. Lock files are never deleted (deleting one races with a process about to lock it).

flock also excludes a second open file description in the same process, so threads take turns too. On NFS,
Linux maps flock to POSIX byte-range locks, which the server keeps across hosts.

The primitive :func:`try_lock` is also what :mod:`model.atomic` uses to tell a live writer's temp from a dead
one's. Standard library only (model/ runs without pipeline/).
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import secrets
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

_BUSY = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)


def try_lock(p: Path, flags: int = os.O_RDONLY) -> int | None:
    """An fd holding an exclusive flock on ``p`` (a file or a folder); None when another holder has it (or
    ``p`` is gone). ``flags``: how to open it (``os.O_RDWR | os.O_CREAT`` to create a lock file)."""
    p = Path(p)
    try:
        fd = os.open(p, flags | (os.O_DIRECTORY if p.is_dir() else 0), 0o666)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in _BUSY:
            return None
        raise
    return fd


@dataclass(frozen=True)
class Holder:
    """Who holds (or, in a stale record, held) a lock."""
    pid: int
    host: str
    started: str          # local time, ISO 8601 to the second
    what: str = ""
    token: str = ""       # random, per acquisition: lets a child process recognise its parent's lock

    def describe(self) -> str:
        what = f"`{self.what}` " if self.what else ""
        return f"{what}(PID {self.pid} on {self.host}, since {self.started})"

    @classmethod
    def of_held(cls, path: Path, wait_s: float = 1.0) -> "Holder | None":
        """The record of a lock another process holds. Its holder writes it just after taking the lock, so an
        empty one is read again for up to ``wait_s`` (else a waiter would say who holds it as "?")."""
        deadline = time.monotonic() + wait_s
        while (holder := cls.read(path)) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return holder

    @classmethod
    def read(cls, path: Path) -> "Holder | None":
        """The record in lock file ``path``; None when there is none (free, cleared, or being written)."""
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8") or "null")
            return cls(int(d["pid"]), str(d["host"]), str(d["started"]), str(d.get("what", "")),
                       str(d.get("token", "")))
        except (OSError, ValueError, TypeError, KeyError):
            return None


class Busy(RuntimeError):
    """The lock is held by another process (or another open of it); ``holder`` says who, when it can."""

    def __init__(self, path: Path, holder: Holder | None):
        self.path, self.holder = Path(path), holder
        super().__init__(f"{path}: held by " + (holder.describe() if holder else "another process"))


class FileLock:
    """An exclusive lock on ``path`` with a holder record. ``with FileLock(p, what):`` fails at once with
    :class:`Busy`; :meth:`acquire` can wait instead."""

    def __init__(self, path: Path, what: str = ""):
        self.path, self.what = Path(path), what
        self.fd: int | None = None
        self.holder: Holder | None = None

    def acquire(self, wait: bool = False, on_wait: Callable[[Holder | None], None] | None = None) -> Holder | None:
        """Take the lock. Busy: raise :class:`Busy`, or with ``wait`` call ``on_wait(holder)`` once and block
        until it is free. Returns the record a crashed holder left (a stale lock taken over), else None."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = try_lock(self.path, os.O_RDWR | os.O_CREAT)
        if fd is None:
            holder = Holder.of_held(self.path)
            if not wait:
                raise Busy(self.path, holder)
            if on_wait is not None:
                on_wait(holder)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(fd, fcntl.LOCK_EX)   # blocks; the kernel wakes it when the holder exits
        stale = Holder.read(self.path)       # a record nobody cleared: its holder died holding the lock
        self.fd = fd
        self.holder = Holder(os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%d %H:%M:%S"), self.what,
                             secrets.token_hex(8))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(self.holder)).encode(), 0)
        return stale

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)        # a clean exit leaves no record: only a crash leaves one
        finally:
            os.close(self.fd)               # closing the last fd on it releases the flock
            self.fd, self.holder = None, None

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class Slots:
    """A counting semaphore across processes: ``n`` lock files ``slot-0.lock`` ... in ``folder``; a holder
    takes any free one."""

    def __init__(self, folder: Path, n: int, what: str = "", poll_s: float = 0.5):
        self.folder, self.n, self.what, self.poll_s = Path(folder), max(1, int(n)), what, poll_s

    def paths(self) -> list[Path]:
        return [self.folder / f"slot-{i}.lock" for i in range(self.n)]

    def acquire(self, on_wait: Callable[[list[Holder | None]], None] | None = None) -> tuple[int, FileLock]:
        """Wait for a free slot; returns its index and its (held) lock. ``on_wait(holders)`` is called once
        when every slot is busy."""
        told = False
        while True:
            for i, p in enumerate(self.paths()):
                lock = FileLock(p, self.what)
                try:
                    lock.acquire()
                    return i, lock
                except Busy:
                    continue
            if not told and on_wait is not None:
                on_wait([Holder.of_held(p) for p in self.paths()])
                told = True
            time.sleep(self.poll_s)
