"""Line-based reading shared by the text, JSONL and CoNLL-U readers: lines of a byte range, documents of at
most ``max_chars`` characters cut at line ends, and segments cut at separators for the clean stage's work units.
"""
from __future__ import annotations

import codecs
import gzip
import zlib
from pathlib import Path
from typing import Iterator

from pipeline.readers.common import RAISE, READ_CHUNK, BadInput, RawDoc, Segment, SourceFile, open_binary

_READ_ERRORS = (OSError, EOFError, zlib.error)


def _utf8_message(path: Path, lineno: int, raw: bytes, err: UnicodeDecodeError) -> str:
    col = len(raw[: err.start].decode("utf-8", errors="replace")) + 1
    bad = raw[err.start: err.start + 1]
    byte = f"byte 0x{bad[0]:02x}" if bad else "truncated sequence"
    return f"{path} line {lineno}: not valid UTF-8 ({byte} at column {col}); re-encode the file as UTF-8"


class _Lines:
    """The state of one pass over a file's lines (position, line number, whether a read failed)."""

    def __init__(self, f, path: Path, rel: str, bad: BadInput, max_chars: int, lineno: int, pos: int):
        self.f, self.path, self.rel, self.bad, self.max_chars = f, path, rel, bad, max_chars
        self.limit = 4 * max_chars + 8  # bytes; a full chunk is certainly longer than max_chars characters
        self.lineno, self.pos = lineno, pos
        self.failed = False

    def read_error(self, e) -> None:
        self.failed = True
        self.bad("corrupt_gzip", f"{self.path} line {self.lineno + 1}: cannot read ({e}); is the file truncated "
                                 f"or not gzip?", self.rel, self.lineno + 1)

    def read(self) -> bytes | None:
        """At most ``limit`` bytes up to the next newline; None after a read error (reported; the file ends)."""
        try:
            return self.f.readline(self.limit)
        except _READ_ERRORS as e:
            self.read_error(e)
            return None

    def decode(self, raw: bytes) -> str | None:
        """An ordinary line without its ending; None (reported) when it is not UTF-8 or holds a NUL byte."""
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            self.bad("invalid_utf8", _utf8_message(self.path, self.lineno, raw, e), self.rel, self.lineno,
                     raw[:2000].decode("utf-8", errors="replace"))
            return None
        if "\x00" in line:
            self.bad("nul_byte", f"{self.path} line {self.lineno}: NUL byte at column {line.index(chr(0)) + 1} "
                                 f"(binary data in a text file?)", self.rel, self.lineno, line.replace("\x00", ""))
            return None
        return line

    def long_line(self, chunk: bytes) -> tuple[str, int] | None:
        """Stream through an absurdly long line: its first ``max_chars + 1`` characters and its length.
        None when it is not UTF-8 (reported; the rest of the line is drained) or a read failed."""
        dec = codecs.getincrementaldecoder("utf-8")()
        prefix, n, broken = "", 0, False
        while True:
            is_end = chunk.endswith(b"\n") or len(chunk) < self.limit  # newline or end of file
            body = chunk[:-1] if chunk.endswith(b"\n") else chunk
            if not broken:
                try:
                    s = dec.decode(body, final=is_end)
                except UnicodeDecodeError as e:
                    col = n + len(body[: e.start].decode("utf-8", errors="replace")) + 1
                    b = f"byte 0x{body[e.start]:02x}" if e.start < len(body) else "truncated sequence"
                    self.bad("invalid_utf8", f"{self.path} line {self.lineno}: not valid UTF-8 ({b} near column "
                                             f"{col}); re-encode the file as UTF-8", self.rel, self.lineno, prefix)
                    broken = True  # skip mode: drain the rest of the line
                    s = ""
                if len(prefix) <= self.max_chars:
                    prefix += s[: self.max_chars + 1 - len(prefix)]
                n += len(s)
            if is_end:
                break
            chunk = self.read()
            if chunk is None:
                return None
            self.pos += len(chunk)
        return None if broken else (prefix, n)


def iter_lines(path: Path, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
               bad: BadInput = RAISE, rel: str = "") -> Iterator[tuple[int, str, int]]:
    """Yield ``(lineno, text, n_chars)`` for each line from byte ``start`` to ``end``, without the line ending.

    ``n_chars`` is -1 for an ordinary line. A line too long to hold (more than ~4 * max_chars bytes) is
    read in chunks: only its first ``max_chars + 1`` characters are kept and ``n_chars`` is its full
    length in characters. A line that is not UTF-8 or holds a NUL byte goes to ``bad`` (skipped in skip
    mode); a read error (truncated gzip) too, and ends the file.
    """
    if end is not None and end < 0:
        end = None
    f = open_binary(path)
    r = _Lines(f, path, rel, bad, max_chars, first_line - 1, start)
    try:
        with f:
            if start:
                try:
                    f.seek(start)
                except _READ_ERRORS as e:
                    r.read_error(e)
                    return
            while end is None or r.pos < end:
                raw = r.read()
                if not raw:
                    return
                r.lineno += 1
                r.pos += len(raw)
                if raw.endswith(b"\n") or len(raw) < r.limit:
                    line = r.decode(raw)
                    if line is not None:
                        yield r.lineno, line, -1
                    continue
                got = r.long_line(raw)
                if r.failed:
                    return
                if got is not None:
                    yield r.lineno, got[0], got[1]
    except gzip.BadGzipFile as e:
        bad("corrupt_gzip", f"{path}: not a valid gzip file ({e})", rel, r.lineno + 1)


class Blocker:
    """Accumulates lines into documents of at most max_chars characters."""

    def __init__(self, rel: str, max_chars: int):
        self.rel = rel
        self.max_chars = max_chars
        self.lines: list[str] = []
        self.size = 0          # characters incl. joining newlines
        self.start = 0
        self.split = False     # current block already emitted a piece

    def add(self, lineno: int, text: str, n_chars: int = -1) -> Iterator[RawDoc]:
        length = n_chars if n_chars >= 0 else len(text)
        if length > self.max_chars:
            if self.lines:
                yield self._emit(piece=True)
            self.split = True
            yield RawDoc(text, self.rel, lineno, split=False, overlong=True, n_chars=length)
            return
        if self.lines and self.size + 1 + length > self.max_chars:
            yield self._emit(piece=True)
            self.split = True
        if not self.lines:
            self.start = lineno
            self.size = length
        else:
            self.size += 1 + length
        self.lines.append(text)

    def _emit(self, piece: bool) -> RawDoc:
        doc = RawDoc("\n".join(self.lines), self.rel, self.start, split=self.split or piece)
        self.lines = []
        self.size = 0
        return doc

    def end(self) -> Iterator[RawDoc]:
        if self.lines:
            yield self._emit(piece=False)
        self.split = False


def split_text(text: str, rel: str, line: int, max_chars: int) -> Iterator[RawDoc]:
    """One in-memory document (jsonl/parquet), split at line boundaries if over max_chars."""
    if len(text) <= max_chars:
        yield RawDoc(text, rel, line)
        return
    b = Blocker(rel, max_chars)
    for ln in text.split("\n"):
        for d in b.add(line, ln):
            yield RawDoc(d.text, d.source, line, split=d.split, overlong=d.overlong, n_chars=d.n_chars)
    for d in b.end():
        yield RawDoc(d.text, d.source, line, split=True)


def plan_at(sf: SourceFile, file_index: int, task_bytes: int, seps: tuple[bytes, ...]) -> list[Segment]:
    """Cut a file into segments of about ``task_bytes``, each ending just after one of ``seps``."""
    segments: list[Segment] = []
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
                    if not hits:
                        break
                    i, sep = min(hits)
                    end_i = i + len(sep)
                    nl += data.count(b"\n", nl_pos, end_i)
                    nl_pos = end_i
                    cut = base + end_i
                    segments.append(Segment(file_index, seg_start, cut, seg_line, cut - seg_start))
                    seg_start, seg_line = cut, nl + 1
                    search_from = max(end_i, seg_start + task_bytes - base)
                offset += len(chunk)
                lines += chunk.count(b"\n")
                tail = chunk[-2:]
    except (OSError, EOFError, zlib.error):
        pass  # a truncated or corrupt file: the reader reports it with its line when it gets there
    segments.append(Segment(file_index, seg_start, -1, seg_line, max(0, offset - seg_start)))
    return segments
