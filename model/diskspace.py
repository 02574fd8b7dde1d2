"""A full disk is an error, not damage: :class:`DiskFull` names the output, the space it needed and what is free.

Two ways a write runs out of room: the filesystem is full (``ENOSPC``, or ``EDQUOT`` over a quota) or a file
reaches the process's file size limit (``EFBIG``; ``ulimit -f``, ``RLIMIT_FSIZE``). The atomic writers
(:mod:`model.atomic`) turn either into a :class:`DiskFull` for the output they were writing, after removing
their temp, so nothing that looks finished is left and the next run, with room, starts clean. Libraries
report it in their own words (pyarrow ``[errno 28]``, safetensors ``code: 27``, torch's zip writer only "file
write failed"), so :func:`diagnose` reads the errno where there is one and otherwise asks the filesystem: is
it (nearly) full, or has a file reached the size limit? Pre-training also checks before each checkpoint
(:func:`require_space`): it knows the bytes it is about to write. Standard library only.
"""
from __future__ import annotations

import errno
import os
import re
import resource
import shutil
from pathlib import Path

FULL = {errno.ENOSPC: "no space left on the device", errno.EFBIG: "file size limit reached",
        errno.EDQUOT: "disk quota exceeded"}
_IN_MESSAGE = re.compile(r"errno\s*(\d+)|code:\s*(\d+)|(No space left on device)|(File too large)|(quota exceeded)",
                         re.IGNORECASE)
NEARLY_FULL = 1 << 20   # under 1 MiB free (to the user): the disk is what failed


class DiskFull(OSError):
    """Writing ``filename`` ran out of room; ``str()`` is the one-line message (path, need, free)."""

    def __str__(self) -> str:
        return str(self.strerror)


def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _mount(path: Path) -> Path:
    p = Path(os.path.abspath(path))
    while not p.exists() or not os.path.ismount(p):
        if p.parent == p:
            break
        p = p.parent
    return p


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged process can still write on ``path``'s filesystem (``f_bavail``)."""
    p = Path(path)
    while not p.exists() and p.parent != p:
        p = p.parent
    return shutil.disk_usage(p).free


def file_size_limit() -> int | None:
    """This process's file size limit (``ulimit -f``) in bytes, None when unlimited."""
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _size(p: Path) -> int:
    try:
        if p.is_dir():
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        return p.stat().st_size
    except OSError:
        return 0


def _errno_of(exc: BaseException) -> int | None:
    if isinstance(exc, OSError) and exc.errno in FULL:
        return exc.errno
    m = _IN_MESSAGE.search(str(exc))
    if not m:
        return None
    if m.group(3):
        return errno.ENOSPC
    if m.group(4):
        return errno.EFBIG
    if m.group(5):
        return errno.EDQUOT
    code = int(m.group(1) or m.group(2))
    return code if code in FULL else None


def _observed(tmp: Path) -> int | None:
    """What the filesystem says after an opaque write error under ``tmp``: full, or a file at the size limit."""
    limit = file_size_limit()
    if limit is not None:
        files = [f for f in tmp.rglob("*") if f.is_file()] if tmp.is_dir() else [tmp]
        if any(_size(f) >= limit for f in files):
            return errno.EFBIG
    return errno.ENOSPC if free_bytes(tmp) < NEARLY_FULL else None


def disk_full(path: Path, code: int, written: int = 0, need: int | None = None) -> DiskFull:
    """The error for ``path``: what ran out, the space it needed (when known) or had written, what is free."""
    path = Path(path)
    limit = file_size_limit()
    if code == errno.EFBIG and limit is not None:
        what = (f"needs a {human(need)} file, over" if need is not None else "a file outgrew") + \
            f" the file size limit of {human(limit)} (ulimit -f); raise the limit"
    else:
        what = (f"needs {human(need)}; " if need is not None else "") + \
            f"{FULL.get(code, 'no space')}: {human(free_bytes(path))} free on {_mount(path)}" + \
            (f" after it had written {human(written)}" if written else "") + "; free some space"
    return DiskFull(code, f"disk full writing {path}: {what}, then run again (nothing half-written is left)",
                    str(path))


def diagnose(exc: BaseException, path: Path, tmp: Path) -> DiskFull | None:
    """A :class:`DiskFull` for ``path`` when ``exc``, raised while writing its temp ``tmp``, was the disk or
    the file size limit; None for any other error. Call it before removing ``tmp`` (its size is the evidence)."""
    if isinstance(exc, DiskFull):
        return None
    code = _errno_of(exc)
    # an I/O error without an errno (torch's zip writer: "file write failed", "unexpected pos"): ask the disk
    if code is None and isinstance(exc, (OSError, RuntimeError)):
        code = _observed(Path(tmp))
    if code is None:
        return None
    return disk_full(path, code, written=_size(Path(tmp)))


def as_disk_full(exc: BaseException, where: Path | None = None) -> DiskFull | None:
    """An OSError of a write no atomic writer wrapped (ENOSPC / EFBIG / EDQUOT), as a :class:`DiskFull` naming
    its file, or ``where`` when it names none (pyarrow's and numpy's do not)."""
    if isinstance(exc, DiskFull):
        return exc
    code = _errno_of(exc) if isinstance(exc, OSError) else None
    if code is not None:
        return disk_full(Path(exc.filename or where or "."), code)
    return None


def tensor_bytes(obj) -> int:
    """Bytes of every tensor (anything with ``nbytes``) in nested dicts / lists / tuples."""
    if hasattr(obj, "nbytes") and not isinstance(obj, (bytes, bytearray)):
        return int(obj.nbytes)
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def require_space(target: Path, files: dict[str, int], margin: int = 1 << 20) -> None:
    """Raise :class:`DiskFull` before writing folder ``target`` of ``files`` (name -> bytes) when they cannot
    fit: the filesystem has less free than their total (plus ``margin``), or one is over the file size limit."""
    target = Path(target)
    need = sum(files.values()) + margin
    limit = file_size_limit()
    big = max(files, key=files.get) if files else None
    if limit is not None and big is not None and files[big] > limit:
        raise disk_full(target / big, errno.EFBIG, need=files[big])
    if free_bytes(target) < need:
        raise disk_full(target, errno.ENOSPC, need=need)
