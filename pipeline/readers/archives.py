"""Archives as sources: the files packed in a .zip or a tar (.tar, .tar.gz/.tgz, .tar.xz/.txz, .tar.bz2/.tbz2,
.tar.zst), read in place, never extracted to disk.

An archive among a source's files is read as the folder it packs: each regular member file is a source file of
its own (a ``Member``), read by the source's format reader as if extracted, and recorded as ``ARCHIVE/MEMBER``
(the corpus's ``source``, error messages, stats.json). ``sources[].members`` narrows them with a glob (``*``
also matches ``/``: ``*-sentences.txt`` finds a Leipzig corpus's sentences in any folder of its tarball).
Hidden members (a part of the name starting with ``.``) and macOS's ``__MACOSX/`` copies are left out, as a
source's glob leaves hidden files out. Only line-based formats are read from archives (``LINE_FORMATS``); a
member may itself be compressed (.gz, .xz, .zst, .bz2).

A tar has no index: listing it reads it through once, hashing each member on the way. A member is read from
the decompressed tar stream at its offset; the stream stays open, so a work unit's consecutive members cost one
pass, and a small member is kept whole after its first read (the binary sniff, then the reader, read it from its
start). A zip's members are read directly.
"""
from __future__ import annotations

import fnmatch
import hashlib
import io
import os
import tarfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

from pipeline.errors import StageError

SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".txz", ".tar.xz", ".tbz2", ".tar.bz2", ".tar.zst")
LINE_FORMATS = ("text", "jsonl", "csv", "conllu")
SMALL = 8 << 20        # a tar member up to this size is kept whole after its first read
_CHUNK = 1 << 20


def is_archive(path) -> bool:
    return isinstance(path, Path) and path.name.lower().endswith(SUFFIXES)


@dataclass(frozen=True)
class Member:
    """One file inside an archive; stands where a file's ``Path`` stands in a ``SourceFile``."""
    archive: Path      # absolute path of the archive
    member: str        # its name in the archive
    size: int          # bytes, as stored in the archive (compressed when the member itself is)
    sha256: str
    offset: int = -1   # tar: where its bytes start in the decompressed tar stream; zip: -1

    @property
    def name(self) -> str:
        return PurePosixPath(self.member).name

    @property
    def suffixes(self) -> list[str]:
        return PurePosixPath(self.member).suffixes

    def __str__(self) -> str:
        return f"{self.archive}/{self.member}"


def hidden(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def selected(m: Member, pattern: str | None) -> bool:
    """Whether ``sources[].members`` (a glob whose ``*`` also matches ``/``; None: every file) takes a member."""
    return pattern is None or fnmatch.fnmatchcase(m.member, pattern)


def members(archive: Path, hidden_too: bool = False) -> list[Member]:
    """The archive's regular, non-hidden files (``hidden_too``: and the hidden ones), in archive order (a
    ``StageError`` naming a damaged archive)."""
    st = archive.stat()
    every = _listing(archive.resolve(), st.st_size, st.st_mtime_ns)
    return every if hidden_too else [m for m in every if not hidden(m.member)]


@lru_cache(maxsize=16)
def _listing(archive: Path, size: int, mtime: int) -> list[Member]:
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                return [Member(archive, i.filename, i.file_size, _sha(z.open(i)))
                        for i in z.infolist() if not i.is_dir()]
        from pipeline.readers.common import open_binary

        out = []
        with open_binary(archive) as f, tarfile.open(fileobj=f, mode="r|") as t:
            for i in t:
                name = i.name.removeprefix("./")
                if i.isreg():
                    out.append(Member(archive, name, i.size, _sha(t.extractfile(i)), i.offset_data))
        return out
    except RuntimeError as e:    # an encrypted zip member
        raise StageError(f"{archive}: cannot read this archive ({e}); extract it with its password") from None
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, ValueError) as e:
        raise StageError(f"{archive}: cannot read this archive ({type(e).__name__}: {e}); is it complete?") from None


def open_member(m: Member, start: int = 0):
    """A member's stored bytes from byte ``start``, as a binary file (``common.open_binary`` decompresses a
    member that is itself compressed)."""
    if m.offset < 0:   # (ZipExtFile's own readline is Python; a BufferedReader's is C)
        f = _zip(m.archive, os.getpid()).open(m.member)
        f.seek(start)
        return io.BufferedReader(f, _CHUNK)
    if m.size <= SMALL:
        f = io.BytesIO(_small(m, os.getpid()))
        f.seek(start)
        return f
    return io.BufferedReader(_View(m.archive, m.offset + start, m.offset + m.size), _CHUNK)


@lru_cache(maxsize=4)
def _zip(archive: Path, pid: int) -> zipfile.ZipFile:   # (a forked process opens its own)
    return zipfile.ZipFile(archive)


@lru_cache(maxsize=1)
def _small(m: Member, pid: int) -> bytes:
    with _View(m.archive, m.offset, m.offset + m.size) as v:
        return v.read()


class _Stream:
    """A tar's decompressed stream, open at ``pos``; one per archive and process."""
    open: dict[Path, "_Stream"] = {}

    def __init__(self, archive: Path):
        from pipeline.readers.common import open_binary

        self.pid, self.f, self.pos = os.getpid(), open_binary(archive), 0

    @classmethod
    def at(cls, archive: Path, offset: int) -> "_Stream":
        s = cls.open.get(archive)
        if s is None or s.pid != os.getpid() or s.pos > offset:   # backwards: read again from the start
            if s is not None and s.pid == os.getpid():
                s.f.close()
            s = cls.open[archive] = cls(archive)
        while s.pos < offset:
            got = len(s.f.read(min(_CHUNK, offset - s.pos)))
            if not got:
                raise EOFError(f"{archive}: ends before byte {offset}; is it truncated?")
            s.pos += got
        return s


class _View(io.RawIOBase):
    """Bytes [pos, end) of a tar's decompressed stream."""

    def __init__(self, archive: Path, pos: int, end: int):
        self.archive, self.pos, self.end = archive, pos, end

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = min(len(b), self.end - self.pos)
        if n <= 0:
            return 0
        s = _Stream.at(self.archive, self.pos)
        data = s.f.read(n)
        if not data:
            raise EOFError(f"{self.archive}: ends inside a member; is it truncated?")
        b[:len(data)] = data
        s.pos += len(data)
        self.pos += len(data)
        return len(data)


def _sha(f) -> str:
    h = hashlib.sha256()
    with f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()
