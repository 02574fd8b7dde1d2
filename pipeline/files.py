"""Opening the files sources and tasks read: plain, compressed (.gz, .xz, .zst, .bz2: ``open_binary`` reads the
decompressed bytes), or packed in a .zip or a tar (.tar, .tar.gz/.tgz, .tar.xz/.txz, .tar.bz2/.tbz2, .tar.zst)
and read in place, never extracted to disk.

An archive among a source's files is read as the folder it packs: each regular member file is a source file of
its own (a ``Member``), read by the source's format reader as if extracted, and recorded as ``ARCHIVE/MEMBER``
(the corpus's ``source``, error messages, stats.json). ``sources[].members`` narrows them with a glob (``*``
also matches ``/``: ``*-sentences.txt`` finds a Leipzig corpus's sentences in any folder of its tarball).
Hidden members (a part of the name starting with ``.``) and macOS's ``__MACOSX/`` copies are left out, as a
source's glob leaves hidden files out. Only line-based formats are read from archives (``LINE_FORMATS``); a
member may itself be compressed, or an archive (XTREME's ``panx_dataset.tar`` packs a ``.tar.gz`` per language):
its files are members too, named through it (``panx_dataset.tar/sw.tar.gz/train``). A task's file may be named
the same way, ``ARCHIVE/MEMBER`` (``member_at``).

A tar has no index: listing it reads it through once, hashing each member on the way. A member is read from
the decompressed tar stream at its offset; the stream stays open, so a work unit's consecutive members cost one
pass, and a small member is kept whole after its first read (the binary sniff, then the reader, read it from its
start). A zip lists its members from its central directory and reads each directly (hashed when asked,
``member_sha256``). An archive inside an archive is read the same way from its holder's bytes; a zip needs to
seek, so one inside a tar is read only when it is small enough to be kept whole.
"""
from __future__ import annotations

import bz2
import fnmatch
import gzip
import hashlib
import io
import lzma
import os
import tarfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath

from pipeline.errors import StageError

READ_CHUNK = 1 << 20
COMPRESSED = (".gz", ".xz", ".zst", ".bz2")   # read through gzip, lzma, zstandard, bz2; the suffix before says the
                                               # format
ARCHIVES = (".zip", ".tar", ".tgz", ".tar.gz", ".txz", ".tar.xz", ".tbz2", ".tar.bz2", ".tar.zst")
LINE_FORMATS = ("text", "jsonl", "csv", "conllu")
SMALL = 8 << 20        # a tar member up to this size is kept whole after its first read
STREAMS = 4            # decompressed streams a process keeps open (the least recently used closed)
NESTING = 3            # archives inside archives, at most this deep


def compression(name: str) -> str:
    """The compression suffix a file's name says (``.tgz`` is ``.gz``, ...), or ''."""
    name = name.lower()
    for short, z in ((".tgz", ".gz"), (".txz", ".xz"), (".tbz2", ".bz2")):
        if name.endswith(short):
            return z
    return next((z for z in COMPRESSED if name.endswith(z)), "")


def size_of(path) -> int:
    """A file's size in bytes (an archive member's as stored); 0 for one that cannot be read."""
    try:
        return path.size if isinstance(path, Member) else path.stat().st_size
    except OSError:
        return 0


def open_binary(path, start: int = 0, end: int | None = None):
    """The file's (decompressed) bytes, positioned at byte ``start`` of the decompressed stream (a seek error
    propagates: the caller reports it with its line). ``path``: a file, or a ``Member`` of an archive. ``end``:
    where the caller stops (it reads no further). A compressed file (or zip member) read from ``start`` > 0 is
    read from this process's open decompressed stream of it, which moves forward from one call to the next: the
    clean stage's work units of one file decompress it once, not once per unit (quadratic: 14 CPU-s instead of
    1.5 for 50 MB in 104 units of .txt.gz)."""
    z = compression(path.name)
    if start > 0 and (z or isinstance(path, Member) and path.offset < 0):
        return io.BufferedReader(_View(path, start, -1 if end is None else end), READ_CHUNK)
    try:
        if isinstance(path, Member):
            src = open_member(path, 0 if z else start)
            start = start if z else 0
        else:
            src = path if z != ".zst" else open(path, "rb")
        if z == ".gz":
            f = gzip.open(src, "rb")
        elif z == ".xz":
            f = lzma.open(src, "rb")
        elif z == ".bz2":
            f = bz2.open(src, "rb")
        elif z == ".zst":
            import zstandard  # only for .zst sources

            f = zstandard.ZstdDecompressor().stream_reader(src, closefd=True)
        else:
            f = open(src, "rb") if isinstance(src, Path) else src
    except OSError as e:
        raise StageError(f"{path}: cannot open ({e.strerror or e})") from None
    if start:
        try:
            f.seek(start)     # (compressed: decompresses up to there; zstandard seeks forward only)
        except BaseException:
            f.close()
            raise
    return io.BufferedReader(f, READ_CHUNK) if z == ".zst" else f


def is_archive(path) -> bool:
    return isinstance(path, (Path, Member)) and path.name.lower().endswith(ARCHIVES)


@dataclass(frozen=True)
class Member:
    """One file inside an archive; stands where a file's ``Path`` stands in a ``SourceFile``."""
    archive: Path      # absolute path of the archive (the outermost one, a file on disk)
    member: str        # its name in the archive (through the archives inside it that hold it: ``sw.tar.gz/train``)
    size: int          # bytes, as stored in the archive (compressed when the member itself is)
    sha256: str        # of those bytes; tar: taken as the listing reads through; zip: "" (``member_sha256``)
    offset: int = -1   # tar: where its bytes start in the decompressed tar stream; zip: -1
    holder: "Member | None" = None   # the archive member that packs it; None: ``archive`` itself

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
    """Whether ``sources[].members`` (a glob whose ``*`` also matches ``/``; None: every file) takes a member:
    the glob matches its name, or that of an archive inside the archive that holds it."""
    while m is not None:
        if pattern is None or fnmatch.fnmatchcase(m.member, pattern):
            return True
        m = m.holder
    return False


def members(archive: Path, hidden_too: bool = False) -> list[Member]:
    """The archive's regular, non-hidden files (``hidden_too``: and the hidden ones), in archive order, an
    archive among them replaced by its own (a ``StageError`` naming a damaged archive)."""
    every = _expanded(archive)
    return every if hidden_too else [m for m in every if not hidden(m.member)]


def _level(holder: Path | Member) -> list[Member]:
    """The members an archive (a file, or a member of another) packs itself."""
    st = (holder.archive if isinstance(holder, Member) else holder).stat()
    return _listing(holder if isinstance(holder, Member) else holder.resolve(), st.st_size, st.st_mtime_ns)


def _expanded(holder: Path | Member, depth: int = 0) -> list[Member]:
    out = []
    for m in _level(holder):
        if not is_archive(m) or hidden(m.member):
            out.append(m)
        elif depth + 1 >= NESTING:
            raise StageError(f"{m}: archives nested more than {NESTING} deep; extract {m.holder or m.archive} first")
        else:
            out += _expanded(m, depth + 1)
    return out


def member_sha256(m: Member) -> str:
    """The sha256 of a member's bytes: a tar's from its listing; a zip's read now (a zip lists from its central
    directory, so naming its members costs nothing, and only the clean stage's fingerprint reads them whole)."""
    if m.sha256:
        return m.sha256
    try:
        return _sha(open_member(m))
    except (OSError, EOFError, zipfile.BadZipFile, RuntimeError, ValueError) as e:
        raise StageError(f"{m}: cannot read it from the archive ({type(e).__name__}: {e}); is it complete?") from None


@lru_cache(maxsize=64)
def _listing(archive: Path | Member, size: int, mtime: int) -> list[Member]:
    """``size``, ``mtime``: of the file on disk (so a changed file is listed again)."""
    root, within = (archive.archive, archive.member + "/") if isinstance(archive, Member) else (archive, "")

    def member(name: str, size: int, sha: str = "", offset: int = -1) -> Member:
        return Member(root, within + name, size, sha, offset, archive if within else None)
    try:
        if archive.name.lower().endswith(".zip"):
            src = _seekable(archive)
            try:
                with zipfile.ZipFile(src) as z:
                    return [member(i.filename, i.file_size) for i in z.infolist() if not i.is_dir()]
            finally:
                if not isinstance(src, Path):
                    src.close()
        out = []
        with open_binary(archive) as f, tarfile.open(fileobj=f, mode="r|") as t:
            for i in t:
                if i.isreg():
                    out.append(member(i.name.removeprefix("./"), i.size, _sha(t.extractfile(i)), i.offset_data))
        return out
    except RuntimeError as e:    # an encrypted zip member
        raise StageError(f"{archive}: cannot read this archive ({e}); extract it with its password") from None
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, ValueError) as e:
        raise StageError(f"{archive}: cannot read this archive ({type(e).__name__}: {e}); is it complete?") from None


def _seekable(archive: Path | Member):
    """A zip's bytes, which ``zipfile`` reads by seeking."""
    if isinstance(archive, Path):
        return archive
    f = open_binary(archive)
    if not f.seekable():
        f.close()
        raise StageError(f"{archive}: a zip inside a tar is read in place only up to {SMALL >> 20} MiB; extract "
                         f"{archive.holder or archive.archive} first")
    return f


def member_at(path: Path) -> Member | None:
    """The archive member ``path`` names as ``ARCHIVE/MEMBER`` (``data/ud.zip/UD_X-master/x-ud-test.conllu``,
    ``panx_dataset.tar/sw.tar.gz/train``), or None when no file on the path is an archive; a ``StageError`` when
    the archive has no such member. Only the archives on the way are listed."""
    for archive in Path(path).parents:
        if archive.is_file() and is_archive(archive):
            name, holder = Path(path).relative_to(archive).as_posix(), archive
            while True:
                level = [m for m in _level(holder) if not hidden(m.member)]
                found = next((m for m in level if m.member == name), None)
                if found is not None:
                    return found
                holder = next((m for m in level if is_archive(m) and name.startswith(m.member + "/")), None)
                if holder is None:
                    near = [m.member for m in level if m.name == Path(name).name] or [m.member for m in level][:8]
                    raise StageError(f"{path}: archive {archive} holds no member {name!r} (members: "
                                     f"{', '.join(near)}{', ...' if len(level) > len(near) else ''})")
    return None


def open_member(m: Member, start: int = 0):
    """A member's stored bytes from byte ``start``, as a binary file (``open_binary`` decompresses a member that
    is itself compressed)."""
    holder = m.holder or m.archive
    if m.offset < 0:   # (ZipExtFile's own readline is Python; a BufferedReader's is C)
        f = _zip(holder, os.getpid()).open(m.member.removeprefix(m.holder.member + "/") if m.holder else m.member)
        f.seek(start)
        return io.BufferedReader(f, READ_CHUNK)
    if m.size <= SMALL:
        f = io.BytesIO(_small(m, os.getpid()))
        f.seek(start)
        return f
    return io.BufferedReader(_View(holder, m.offset + start, m.offset + m.size), READ_CHUNK)


@lru_cache(maxsize=4)
def _zip(archive: Path | Member, pid: int) -> zipfile.ZipFile:   # (a forked process opens its own)
    return zipfile.ZipFile(_seekable(archive))


@lru_cache(maxsize=2)
def _small(m: Member, pid: int) -> bytes:
    with _View(m.holder or m.archive, m.offset, m.offset + m.size) as v:
        return v.read()


class _Stream:
    """A tar's or a compressed file's decompressed stream, open at ``pos``; one per file and process, at most
    ``STREAMS`` (``streams``, least recently used first)."""
    streams: dict[Path | Member, "_Stream"] = {}

    def __init__(self, archive: Path | Member):
        self.pid, self.f, self.pos = os.getpid(), open_binary(archive), 0

    @classmethod
    def at(cls, archive: Path | Member, offset: int) -> "_Stream":
        s = cls.streams.pop(archive, None)
        if s is None or s.pid != os.getpid() or s.pos > offset:   # backwards: read again from the start
            if s is not None and s.pid == os.getpid():
                s.f.close()
            s = cls(archive)
        cls.streams[archive] = s
        while len(cls.streams) > STREAMS:
            old = cls.streams.pop(next(iter(cls.streams)))
            if old.pid == os.getpid():
                old.f.close()
        while s.pos < offset:
            got = len(s.f.read(min(READ_CHUNK, offset - s.pos)))
            if not got:
                raise EOFError(f"{archive}: ends before byte {offset}; is it truncated?")
            s.pos += got
        return s


class _View(io.RawIOBase):
    """Bytes [pos, end) of a tar's or a compressed file's decompressed stream (``end`` -1: to its end)."""

    def __init__(self, archive: Path | Member, pos: int, end: int):
        self.archive, self.pos, self.end = archive, pos, end

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = len(b) if self.end < 0 else min(len(b), self.end - self.pos)
        if n <= 0:
            return 0
        s = _Stream.at(self.archive, self.pos)
        data = s.f.read(n)
        if not data:
            if self.end < 0:
                return 0
            raise EOFError(f"{self.archive}: ends before byte {self.end}; is it truncated?")
        b[:len(data)] = data
        s.pos += len(data)
        self.pos += len(data)
        return len(data)


def _sha(f) -> str:
    h = hashlib.sha256()
    with f:
        for chunk in iter(lambda: f.read(READ_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()
