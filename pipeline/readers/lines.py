"""Line-based reading shared by the text, JSONL and CoNLL-U readers: lines of a byte range (a line too long to
hold streamed in chunks), documents cut from lines (``Blocker``), and segments cut at separators for the clean
stage's work units (``plan_at``).
"""
from __future__ import annotations

import codecs
import gzip
import lzma
import zlib
from pathlib import Path
from typing import Iterator

from pipeline.config.sources import UTF8, legacy_hint
from pipeline.readers.common import RAISE, READ_CHUNK, BadInput, RawDoc, Segment, SourceFile, open_binary
from pipeline.readers.pieces import LongLine, split_line, split_long

try:
    from zstandard import ZstdError
except ImportError:  # pragma: no cover (a dependency; only .zst sources need it)
    ZstdError = OSError

_READ_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ZstdError)
# A block with no separator for this many bytes is cut at a line end (else a space, else a character boundary)
# where a work unit ends, so one unit never holds more than about this much text (a 100 MB one-line file is
# 13 units). Only documents longer than this can end at such a cut, and they are split anyway.
LONG_CUT_BYTES = 8 << 20


def _decode_message(path: Path, lineno: int, raw: bytes, err: UnicodeDecodeError, col0: int = 0,
                    encoding: str = UTF8) -> str:
    col = col0 + len(raw[: err.start].decode(encoding, errors="replace")) + 1
    bad = raw[err.start: err.start + 1]
    byte = f"byte 0x{bad[0]:02x}" if bad else "truncated sequence"
    if encoding != UTF8:   # sources[].encoding: a byte that encoding leaves undefined
        return (f"{path} line {lineno}: not valid {encoding} ({byte} at column {col} is no character in it); "
                f"check the file's encoding (sources[].encoding)")
    return f"{path} line {lineno}: not valid UTF-8 ({byte} at column {col}); {legacy_hint(raw)}"


class _Lines:
    """The state of one pass over a file's lines (position, line number, whether a read failed)."""

    def __init__(self, f, path: Path, rel: str, bad: BadInput, limit: int, lineno: int, pos: int, end: int | None,
                 encoding: str = UTF8):
        self.f, self.path, self.rel, self.bad, self.limit = f, path, rel, bad, limit
        self.lineno, self.pos, self.end = lineno, pos, end
        self.encoding = encoding
        self.failed = False

    def read_error(self, e) -> None:
        self.failed = True
        self.bad("corrupt_gzip", f"{self.path} line {self.lineno + 1}: cannot read ({e}); is the file truncated "
                                 f"or not {self.path.suffix.lstrip('.') or 'compressed'}?", self.rel, self.lineno + 1)

    def read(self) -> bytes | None:
        """Up to the next newline, at most ``limit`` bytes and not past ``end``; None after a read error."""
        n = self.limit if self.end is None or self.limit < 0 else min(self.limit, self.end - self.pos)
        try:
            raw = self.f.readline(n)
        except _READ_ERRORS as e:
            self.read_error(e)
            return None
        self.pos += len(raw)
        return raw

    @property
    def bad_kind(self) -> str:
        return "invalid_utf8" if self.encoding == UTF8 else "invalid_encoding"

    def whole(self, raw: bytes) -> bool:
        """Whether ``raw`` is a whole line: it ends with a newline, at the end of the file or of the segment."""
        return raw.endswith(b"\n") or len(raw) < self.limit or (self.end is not None and self.pos >= self.end)

    def decode(self, raw: bytes) -> str | None:
        """An ordinary line without its ending; None (reported) when it is not in the file's encoding or holds a
        NUL byte."""
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            line = raw.decode(self.encoding)
        except UnicodeDecodeError as e:
            self.bad(self.bad_kind, _decode_message(self.path, self.lineno, raw, e, encoding=self.encoding), self.rel,
                     self.lineno, raw[:2000].decode(self.encoding, errors="replace"))
            return None
        if "\x00" in line:
            self.bad("nul_byte", f"{self.path} line {self.lineno}: NUL byte at column {line.index(chr(0)) + 1} "
                                 f"(binary data in a text file?)", self.rel, self.lineno, line.replace("\x00", ""))
            return None
        return line

    def long_line(self, chunk: bytes) -> Iterator[str]:
        """Stream through a line too long to hold: its text chunk by chunk. Stops at a byte the encoding does not
        allow or a NUL byte (reported; in skip mode the rest of the line is drained) or a read error."""
        dec = codecs.getincrementaldecoder(self.encoding)()
        n, broken = 0, False
        while True:
            is_end = self.whole(chunk)
            body = chunk[:-1] if chunk.endswith(b"\n") else chunk
            if not broken:
                try:
                    s = dec.decode(body, final=is_end)
                except UnicodeDecodeError as e:
                    self.bad(self.bad_kind, _decode_message(self.path, self.lineno, body, e, n, self.encoding),
                             self.rel, self.lineno)
                    broken, s = True, ""
                if "\x00" in s:
                    self.bad("nul_byte", f"{self.path} line {self.lineno}: NUL byte at column {n + s.index(chr(0)) + 1}"
                                         f" (binary data in a text file?)", self.rel, self.lineno)
                    broken, s = True, ""
                n += len(s)
                if s:
                    yield s.removesuffix("\r") if is_end else s
            if is_end:
                return
            chunk = self.read()
            if chunk is None:
                return


def iter_lines(path: Path, max_chars: int | None, start: int = 0, end: int | None = None, first_line: int = 1,
               bad: BadInput = RAISE, rel: str = "", encoding: str = UTF8) -> Iterator[tuple[int, str, int]]:
    """Yield ``(lineno, text, part)`` for each line from byte ``start`` to ``end``, without the line ending.

    ``part`` is -1 for an ordinary line. A line longer than ~4 * max_chars bytes is streamed: yielded as
    consecutive chunks with ``part`` 0, 1, ... (never held whole). ``max_chars=None``: every line is read
    whole, however long (a JSON line must be parsed whole). ``encoding``: UTF-8, or a single-byte encoding
    (``sources[].encoding``). A line that is not in it or holds a NUL byte goes to ``bad`` (skipped in skip mode);
    a read error (truncated gzip) too, and ends the file.
    """
    if end is not None and end < 0:
        end = None
    limit = 4 * max_chars + 8 if max_chars else -1   # bytes; a full chunk is certainly longer than max_chars
    r = _Lines(None, path, rel, bad, limit, first_line - 1, start, end, encoding)
    try:
        r.f = f = open_binary(path, start, end)
    except _READ_ERRORS as e:
        r.read_error(e)
        return
    try:
        with f:
            while end is None or r.pos < end:
                raw = r.read()
                if not raw:
                    return
                r.lineno += 1
                bom = r.pos == len(raw) and encoding == UTF8 and raw.startswith(codecs.BOM_UTF8)   # Windows tools
                if limit < 0 or r.whole(raw):
                    line = r.decode(raw)
                    if line is not None:
                        yield r.lineno, line[1:] if bom else line, -1
                    continue
                for k, chunk in enumerate(r.long_line(raw)):
                    yield r.lineno, chunk[1:] if bom and k == 0 else chunk, k
                if r.failed:
                    return
    except gzip.BadGzipFile as e:
        bad("corrupt_gzip", f"{path}: not a valid gzip file ({e})", rel, r.lineno + 1)


class Blocker:
    """Accumulates lines into documents: blocks of lines (``end()`` closes one) or, with ``group_chars``,
    groups of at most that many characters. A document longer than ``max_chars`` becomes pieces cut at line
    ends, an over-long line pieces cut at sentence ends (``pieces.py``); pieces are ``split``."""

    def __init__(self, rel: str, max_chars: int, group_chars: int | None = None):
        self.rel = rel
        self.max_chars = max_chars
        self.cap = min(group_chars, max_chars) if group_chars else max_chars
        self.grouping = bool(group_chars) and group_chars < max_chars   # a cut at cap is layout, not a split
        self.lines: list[str] = []
        self.size = 0          # characters incl. joining newlines
        self.start = 0
        self.split = False     # the current block already gave a piece
        self.long: LongLine | None = None
        self.long_line = 0

    def add(self, lineno: int, text: str) -> Iterator[RawDoc]:
        yield from self._close_long()
        length = len(text)
        if length > self.cap:
            if self.lines:
                yield self._emit(piece=not self.grouping)
            over = length > self.max_chars
            self.split = self.split or over
            for piece in split_line(text, self.max_chars) if over else [text]:
                yield RawDoc(piece, self.rel, lineno, split=over)
            return
        if self.lines and self.size + 1 + length > self.cap:
            yield self._emit(piece=not self.grouping)
            self.split = self.split or not self.grouping
        if not self.lines:
            self.start = lineno
            self.size = length
        else:
            self.size += 1 + length
        self.lines.append(text)

    def add_chunk(self, lineno: int, chunk: str, part: int) -> Iterator[RawDoc]:
        """Chunk ``part`` of a line too long to hold (``iter_lines``)."""
        if part == 0:
            yield from self._close_long()
            if self.lines:
                yield self._emit(piece=not self.grouping)
            self.split = True
            self.long, self.long_line = LongLine(self.max_chars), lineno
        for piece in self.long.feed(chunk):
            yield RawDoc(piece, self.rel, lineno, split=True)

    def _close_long(self) -> Iterator[RawDoc]:
        if self.long is not None:
            for piece in self.long.end():
                yield RawDoc(piece, self.rel, self.long_line, split=True)
            self.long = None

    def _emit(self, piece: bool) -> RawDoc:
        doc = RawDoc("\n".join(self.lines), self.rel, self.start, split=self.split or piece)
        self.lines = []
        self.size = 0
        return doc

    def end(self) -> Iterator[RawDoc]:
        yield from self._close_long()
        if self.lines:
            yield self._emit(piece=False)
        self.split = False


def split_text(text: str, rel: str, line: int, max_chars: int) -> Iterator[RawDoc]:
    """One in-memory document (a record, a row), cut into ``split`` pieces if over max_chars."""
    if len(text) <= max_chars:
        yield RawDoc(text, rel, line)
        return
    for piece in split_long(text, max_chars):
        yield RawDoc(piece, rel, line, split=True)


def _fallback_cut(data: bytes, i: int, encoding: str = UTF8) -> int:
    """Where to end a segment in a block with no separator: after the first line end at or after ``i``, else
    after a space, else at the first UTF-8 character start (never inside a character; in a single-byte
    encoding every byte is one)."""
    for sep in (b"\n", b" "):
        j = data.find(sep, i)
        if j >= 0:
            return j + 1
    while encoding == UTF8 and i < len(data) and data[i] & 0xC0 == 0x80:
        i += 1
    return i


def plan_at(sf: SourceFile, file_index: int, task_bytes: int, seps: tuple[bytes, ...],
            fallback: bool = True) -> list[Segment]:
    """Cut a file into segments of about ``task_bytes``, each ending just after one of ``seps`` (or, with
    ``fallback``, in a block with none for ``LONG_CUT_BYTES``, at ``_fallback_cut``)."""
    segments: list[Segment] = []
    keep = max(map(len, seps))
    seg_start, seg_line = 0, 1
    offset, lines = 0, 0       # bytes and newlines before the current chunk
    tail = b""
    try:
        with open_binary(sf.path) as f:
            while True:
                chunk = f.read(READ_CHUNK)
                if not chunk:
                    break
                data = tail + chunk
                base = offset - len(tail)                      # absolute offset of data[0]
                nl_pos, nl = 0, lines - tail.count(b"\n")      # newlines before data[nl_pos]
                search_from = max(0, seg_start + task_bytes - base)
                while search_from < len(data):
                    hits = [(j, sep) for j, sep in ((data.find(sep, search_from), sep) for sep in seps) if j >= 0]
                    if hits:
                        i, sep = min(hits)
                        end_i = i + len(sep)
                    elif fallback and base + len(data) - seg_start > LONG_CUT_BYTES:
                        end_i = _fallback_cut(data, max(search_from, seg_start + LONG_CUT_BYTES - base),
                                              sf.source.encoding)
                        if end_i >= len(data):
                            break
                    else:
                        break
                    nl += data.count(b"\n", nl_pos, end_i)
                    nl_pos = end_i
                    cut = base + end_i
                    segments.append(Segment(file_index, seg_start, cut, seg_line, cut - seg_start))
                    seg_start, seg_line = cut, nl + 1
                    search_from = max(end_i, seg_start + task_bytes - base)
                offset += len(chunk)
                lines += chunk.count(b"\n")
                tail = data[-(keep - 1):] if keep > 1 else b""   # a separator may straddle two chunks
    except _READ_ERRORS:
        pass  # a truncated or corrupt file: the reader reports it with its line when it gets there
    segments.append(Segment(file_index, seg_start, -1, seg_line, max(0, offset - seg_start)))
    return segments
