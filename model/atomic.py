"""Atomic writes: an interrupted stage never leaves a file or folder that looks finished.

A write goes to a temp sibling ``.NAME.XXXXXXXX.tmp`` (``XXXXXXXX``: tempfile's eight random characters)
that is renamed over ``NAME`` when complete; a folder being replaced is parked as ``.NAME.old`` for the
instant of the swap. A process killed mid-write (SIGKILL, power loss) leaves that sibling behind: it is never
mistaken for the output (other name, dot-prefixed, outside the output folder), and the next write of the same
output removes it (:func:`remove_stale`). The writer holds an exclusive ``flock`` on its temp file or folder
while it works, so a temp sibling that can be locked has no live writer; one that is locked is left alone.
The lock is released by the kernel when the writer exits, however it exits.

The one implementation of the protocol: the pipeline's stages (through ``pipeline.atomic``) and model/'s
exports, metrics and curves all write this way. Standard library only, so model/ still runs alone.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from model.diskspace import diagnose
from model.locks import try_lock

_RANDOM = r"[a-z0-9_]{8}"   # tempfile.mkstemp / mkdtemp name characters


def _umask() -> int:
    u = os.umask(0)
    os.umask(u)
    return u


_UMASK = _umask()  # read once, at import (os.umask is process-wide; reading it later would race threads)


def temp_pattern(path: Path) -> re.Pattern:
    """Names of the temp siblings :func:`atomic_file` / :func:`atomic_dir` use."""
    return re.compile(rf"^\.{re.escape(Path(path).name)}\.{_RANDOM}\.tmp$")


def stale_siblings(path: Path) -> list[Path]:
    """Temp siblings of ``path`` left by an atomic write (live or not), and ``.NAME.old``."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    pat = temp_pattern(path)
    old = f".{path.name}.old"
    return sorted(p for p in path.parent.iterdir() if pat.match(p.name) or p.name == old)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def remove_stale(path: Path) -> list[Path]:
    """Remove the temp siblings of ``path`` that no live writer holds. Returns what was removed.

    Only names matching :func:`temp_pattern` for this very output are touched (``.NAME.XXXXXXXX.tmp``), and
    ``.NAME.old`` when no writer of ``NAME`` is live (it exists only for the instant of a folder swap)."""
    path = Path(path)
    removed, live = [], False
    old = None
    for p in stale_siblings(path):
        if p.name == f".{path.name}.old":
            old = p
            continue
        fd = try_lock(p)
        if fd is None:
            live = live or p.exists()
            continue
        try:
            _remove(p)   # while holding the lock: a writer that raced us sees its temp vanish and retries
            removed.append(p)
        finally:
            os.close(fd)
    if old is not None and not live:
        _remove(old)
        removed.append(old)
    return removed


def _locked(tmp: str, fd: int) -> bool:
    """Lock a new temp (fd open on it) and confirm that it is still the one at its name."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        return os.stat(tmp).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


@contextmanager
def atomic_file(path: Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator:
    """Write to a temp file beside ``path`` and rename it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes it private; the published file should not be
        if _locked(tmp, fd):
            break
        os.close(fd)
    try:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        full = diagnose(e, path, Path(tmp))   # before the temp goes: its size is the evidence
        Path(tmp).unlink(missing_ok=True)
        if full is not None:
            raise full from e
        raise
    finally:
        os.close(fd)


def write_json(path: Path, obj) -> None:
    with atomic_file(path) as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


def write_text(path: Path, text: str) -> None:
    with atomic_file(path) as f:
        f.write(text)


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """Build a folder under a temp name and swap it in whole on success.

    The previous folder (if any) is replaced only after the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    while True:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        if _locked(str(tmp), fd):
            break
        os.close(fd)
    os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes it private; the published folder should not be
    try:
        yield tmp
        old = None
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
        os.replace(tmp, path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as e:
        full = diagnose(e, path, tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        if full is not None:
            raise full from e
        raise
    finally:
        os.close(fd)


def umask_modes(root: Path) -> None:
    """Give ``root`` and everything under it the modes a plain create would (0o666/0o777 less the umask):
    copies keep their source's mode, and mkstemp/mkdtemp entries are private."""
    root = Path(root)
    for p in [root, *root.rglob("*")]:
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~_UMASK)
