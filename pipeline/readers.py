"""Streaming readers: every source a language's YAML names, as a stream of raw documents.

``iter_documents(cfg, root)`` walks ``cfg.sources`` (files resolved by
``pipeline.config.resolve_sources``, in that deterministic order) and yields ``RawDoc``s:

- ``text``    (.txt, .txt.gz by suffix): one document per blank-line-separated block of lines.
- ``jsonl``   one document per non-blank line, text in ``source.field`` (dotted paths reach nested keys).
- ``parquet`` one document per row of column ``source.field``, read batch by batch.
- ``conllu``  sentences from ``# text = ...`` (or rebuilt from the token lines); ``# newdoc`` starts a
              document; a file without ``# newdoc`` markers is grouped into documents of
              ``CONLLU_SENTENCES_PER_DOC`` sentences.

Nothing reads a whole file into memory. A document longer than ``cfg.clean.max_chars`` is split at line
boundaries into pieces of at most ``max_chars`` characters (``RawDoc.split`` is true for each piece). A
single line longer than ``max_chars`` cannot be split: it is yielded on its own with ``overlong`` set
(for text/jsonl/conllu files only its first ``max_chars`` characters are kept in memory; ``n_chars``
holds its full length) so that the clean stage drops it as ``too_long``.

Bad input (invalid UTF-8, NUL bytes, binary files, truncated gzip, malformed JSONL/CoNLL-U lines, unreadable
Parquet) goes to a ``BadInput`` handler: in ``error`` mode (the default) it raises ``StageError`` naming the file
and line (row for Parquet); in ``skip`` mode (``clean.on_bad_input: skip``) it counts the item by kind, keeps
up to ``BadInput.EXAMPLES`` examples with file and line, and reading goes on with the next line (row, file).
A configuration mismatch (a Parquet column that does not exist or is not a string) is always an error.

``plan_file`` splits a file into segments of about ``task_bytes`` bytes for the clean stage's tasks: text
files at blank lines (a block never straddles two segments), JSONL at line ends, Parquet at row groups;
CoNLL-U files are not split. ``iter_file(..., start, end, first_line)`` reads one segment and yields exactly
the documents a whole-file read yields for it.
"""
from __future__ import annotations

import codecs
import gzip
import hashlib
import json
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pipeline.config import LanguageConfig, Source, data_root, resolve_sources
from pipeline.errors import StageError

CONLLU_SENTENCES_PER_DOC = 20
PARQUET_BATCH_ROWS = 1024
_READ_CHUNK = 1 << 20
BINARY_SNIFF_BYTES = 8000          # a NUL byte in the first 8000 bytes: a binary file (git's heuristic)
BAD_KINDS = ("binary_file", "invalid_utf8", "nul_byte", "corrupt_gzip", "malformed_json", "missing_field",
             "bad_field_type", "overlong_json_line", "malformed_conllu", "unreadable_parquet")


class BadInput:
    """What to do with bad input: raise (``mode='error'``) or count and keep examples (``mode='skip'``)."""

    EXAMPLES = 20

    def __init__(self, mode: str = "error"):
        self.mode = mode
        self.counts: Counter[str] = Counter()
        self.examples: list[dict] = []

    def __call__(self, kind: str, message: str, rel: str = "", line: int = 0, text: str = "") -> None:
        if self.mode != "skip":
            raise StageError(message)
        self.counts[kind] += 1
        if self.counts[kind] <= self.EXAMPLES:
            self.examples.append({"reason": f"skipped:{kind}", "source": rel, "line": line, "text": text[:2000],
                                  "details": {"kind": kind, "message": message}})


_RAISE = BadInput("error")


@dataclass(frozen=True)
class RawDoc:
    text: str
    source: str          # path of the file relative to its root (data root or project)
    line: int            # 1-based line where the document starts; 0-based row index for parquet
    split: bool = False  # a piece of a block longer than clean.max_chars
    overlong: bool = False  # a single line longer than max_chars (text may be truncated to max_chars)
    n_chars: int = -1    # characters in the raw document (== len(text) unless overlong-truncated)

    @property
    def raw_chars(self) -> int:
        return self.n_chars if self.n_chars >= 0 else len(self.text)


@dataclass(frozen=True)
class SourceFile:
    source: Source
    path: Path       # absolute path
    rel: str         # path relative to its root, as recorded in the corpus


def source_files(cfg: LanguageConfig, root: Path) -> list[SourceFile]:
    """Every input file, in deterministic order, with the path recorded in the corpus."""
    out = []
    for src, path in resolve_sources(cfg, root):
        base = root if src.root == "project" else data_root(root)
        try:
            rel = path.resolve().relative_to(Path(base).resolve()).as_posix()
        except ValueError:
            rel = path.as_posix()
        out.append(SourceFile(src, path, rel))
    return out


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_READ_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def iter_documents(cfg: LanguageConfig, root: Path, bad: BadInput | None = None) -> Iterator[RawDoc]:
    """All documents of all sources, in source order."""
    bad = bad or BadInput(getattr(cfg.clean, "on_bad_input", "error"))
    for sf in source_files(cfg, root):
        if sniff_binary(sf, bad):
            continue
        yield from iter_file(sf, cfg.clean.max_chars, bad=bad)


def iter_file(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
              bad: BadInput | None = None) -> Iterator[RawDoc]:
    """Documents of one file, or of its segment [start, end) (bytes; rows for Parquet) from ``plan_file``."""
    bad = bad or _RAISE
    fmt = sf.source.format
    if fmt == "text":
        return _read_text(sf, max_chars, start, end, first_line, bad)
    if fmt == "jsonl":
        return _read_jsonl(sf, max_chars, start, end, first_line, bad)
    if fmt == "parquet":
        return _read_parquet(sf, max_chars, start, end, bad)
    if fmt == "conllu":
        return _read_conllu(sf, max_chars, bad)
    raise StageError(f"{sf.path}: unknown source format {fmt!r}")  # pragma: no cover (schema forbids)


# --- planning -----------------------------------------------------------------------------------

@dataclass
class Segment:
    file: int            # index into the source file list
    start: int = 0       # byte offset in the (decompressed) file, or first row for Parquet
    end: int = -1        # exclusive; -1 = to the end
    line: int = 1        # line number of the first line at ``start``
    size: int = 0        # bytes (or an estimate for Parquet) covered

    def as_dict(self) -> dict:
        return {"file": self.file, "start": self.start, "end": self.end, "line": self.line, "size": self.size}


def sniff_binary(sf: SourceFile, bad: BadInput) -> bool:
    """True (and reported to ``bad``) when a text/JSONL/CoNLL-U file has a NUL byte near its start."""
    if sf.source.format == "parquet":
        return False
    try:
        with _open_binary(sf.path) as f:
            head = f.read(BINARY_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error):
        return False  # reported with its line by the reader
    pos = head.find(b"\x00")
    if pos < 0:
        return False
    line = head[:pos].count(b"\n") + 1
    hint = " (UTF-16?)" if head[1::2].count(0) > len(head) // 4 else ""
    bad("binary_file", f"{sf.path} line {line}: looks like a binary file{hint} (NUL byte at byte {pos}); "
                       f"convert it to UTF-8 text or remove it from sources", sf.rel, line,
        head[:200].decode("utf-8", errors="replace"))
    return True


def plan_file(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    """Cut a file into segments of about ``task_bytes`` (see the module docstring)."""
    fmt = sf.source.format
    if fmt == "parquet":
        return _plan_parquet(sf, file_index, task_bytes)
    if fmt == "conllu":
        try:
            size = sf.path.stat().st_size
        except OSError:
            size = 0
        return [Segment(file_index, 0, -1, 1, size)]
    seps = (b"\n\n", b"\n\r\n") if fmt == "text" else (b"\n",)
    segments: list[Segment] = []
    seg_start, seg_line = 0, 1
    offset, lines = 0, 0       # bytes and newlines before the current chunk
    tail = b""
    try:
        with _open_binary(sf.path) as f:
            while True:
                chunk = f.read(_READ_CHUNK)
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


def _plan_parquet(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        md = pq.ParquetFile(sf.path).metadata
    except (pa.ArrowException, OSError, ValueError):
        return [Segment(file_index, 0, -1, 0, 0)]  # the reader reports it
    segments: list[Segment] = []
    row, start, size = 0, 0, 0
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        row += rg.num_rows
        size += rg.total_byte_size
        if size >= task_bytes and i < md.num_row_groups - 1:
            segments.append(Segment(file_index, start, row, start, size))
            start, size = row, 0
    segments.append(Segment(file_index, start, -1, start, size))
    return segments


# --- line reading -------------------------------------------------------------------------------

def _open_binary(path: Path):
    try:
        if path.name.endswith(".gz"):
            return gzip.open(path, "rb")
        return open(path, "rb")
    except OSError as e:
        raise StageError(f"{path}: cannot open ({e.strerror or e})") from None


def _utf8_message(path: Path, lineno: int, raw: bytes, err: UnicodeDecodeError) -> str:
    col = len(raw[: err.start].decode("utf-8", errors="replace")) + 1
    bad = raw[err.start: err.start + 1]
    byte = f"byte 0x{bad[0]:02x}" if bad else "truncated sequence"
    return f"{path} line {lineno}: not valid UTF-8 ({byte} at column {col}); re-encode the file as UTF-8"


def _iter_lines(path: Path, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
                bad: BadInput = _RAISE, rel: str = "") -> Iterator[tuple[int, str, int]]:
    """Yield ``(lineno, text, n_chars)`` for each line from byte ``start`` to ``end``, without the line ending.

    ``n_chars`` is -1 for an ordinary line. A line too long to hold (more than ~4 * max_chars bytes) is
    read in chunks: only its first ``max_chars + 1`` characters are kept and ``n_chars`` is its full
    length in characters. A line that is not UTF-8 or holds a NUL byte goes to ``bad`` (skipped in skip
    mode); a read error (truncated gzip) too, and ends the file.
    """
    limit = 4 * max_chars + 8  # bytes; a full chunk is certainly longer than max_chars characters
    if end is not None and end < 0:
        end = None
    f = _open_binary(path)
    lineno = first_line - 1
    pos = start

    def read_error(e) -> None:
        bad("corrupt_gzip", f"{path} line {lineno + 1}: cannot read ({e}); is the file truncated or not gzip?",
            rel, lineno + 1)

    try:
        with f:
            if start:
                try:
                    f.seek(start)
                except (OSError, EOFError, zlib.error) as e:
                    read_error(e)
                    return
            while end is None or pos < end:
                try:
                    raw = f.readline(limit)
                except (OSError, EOFError, zlib.error) as e:
                    read_error(e)
                    return
                if not raw:
                    return
                lineno += 1
                pos += len(raw)
                if raw.endswith(b"\n") or len(raw) < limit:
                    if raw.endswith(b"\n"):
                        raw = raw[:-1]
                    if raw.endswith(b"\r"):
                        raw = raw[:-1]
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as e:
                        bad("invalid_utf8", _utf8_message(path, lineno, raw, e), rel, lineno,
                            raw[:2000].decode("utf-8", errors="replace"))
                        continue
                    if "\x00" in line:
                        bad("nul_byte", f"{path} line {lineno}: NUL byte at column {line.index(chr(0)) + 1} "
                                        f"(binary data in a text file?)", rel, lineno, line.replace("\x00", ""))
                        continue
                    yield lineno, line, -1
                    continue
                # an absurdly long line: stream through it, keep a prefix, count its characters
                dec = codecs.getincrementaldecoder("utf-8")()
                prefix = ""
                n = 0
                chunk = raw
                broken = False
                while True:
                    is_end = chunk.endswith(b"\n") or len(chunk) < limit  # newline or end of file
                    body = chunk[:-1] if chunk.endswith(b"\n") else chunk
                    if not broken:
                        try:
                            s = dec.decode(body, final=is_end)
                        except UnicodeDecodeError as e:
                            col = n + len(body[: e.start].decode("utf-8", errors="replace")) + 1
                            b = f"byte 0x{body[e.start]:02x}" if e.start < len(body) else "truncated sequence"
                            bad("invalid_utf8", f"{path} line {lineno}: not valid UTF-8 ({b} near column {col}); "
                                                f"re-encode the file as UTF-8", rel, lineno, prefix)
                            broken = True  # skip mode: drain the rest of the line
                            s = ""
                        if len(prefix) <= max_chars:
                            prefix += s[: max_chars + 1 - len(prefix)]
                        n += len(s)
                    if is_end:
                        break
                    try:
                        chunk = f.readline(limit)
                    except (OSError, EOFError, zlib.error) as e:
                        read_error(e)
                        return
                    pos += len(chunk)
                if not broken:
                    yield lineno, prefix, n
    except gzip.BadGzipFile as e:
        bad("corrupt_gzip", f"{path}: not a valid gzip file ({e})", rel, lineno + 1)


class _Blocker:
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


def _split_text(text: str, rel: str, line: int, max_chars: int) -> Iterator[RawDoc]:
    """One in-memory document (jsonl/parquet), split at line boundaries if over max_chars."""
    if len(text) <= max_chars:
        yield RawDoc(text, rel, line)
        return
    b = _Blocker(rel, max_chars)
    for ln in text.split("\n"):
        for d in b.add(line, ln):
            yield RawDoc(d.text, d.source, line, split=d.split, overlong=d.overlong, n_chars=d.n_chars)
    for d in b.end():
        yield RawDoc(d.text, d.source, line, split=True)


# --- formats ------------------------------------------------------------------------------------

def _read_text(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
               bad: BadInput = _RAISE) -> Iterator[RawDoc]:
    b = _Blocker(sf.rel, max_chars)
    for lineno, text, n in _iter_lines(sf.path, max_chars, start, end, first_line, bad, sf.rel):
        if n < 0 and not text.strip():
            yield from b.end()
            continue
        yield from b.add(lineno, text, n)
    yield from b.end()


def _get_field(obj, field: str):
    if field in obj:
        return True, obj[field]
    cur = obj
    for part in field.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return False, None
    return True, cur


def _read_jsonl(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
                bad: BadInput = _RAISE) -> Iterator[RawDoc]:
    field = sf.source.field
    # a JSON line holds a whole document, so its limit is generous (escapes, markup)
    for lineno, line, n in _iter_lines(sf.path, 4 * max_chars + 1024, start, end, first_line, bad, sf.rel):
        if n >= 0:
            bad("overlong_json_line", f"{sf.path} line {lineno}: JSON line of {n} characters is too long to read "
                                      f"(clean.max_chars is {max_chars})", sf.rel, lineno, line)
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            bad("malformed_json", f"{sf.path} line {lineno}: malformed JSON ({e.msg.removesuffix(' at')} at column "
                                  f"{e.colno})", sf.rel, lineno, line)
            continue
        if not isinstance(obj, dict):
            bad("malformed_json", f"{sf.path} line {lineno}: expected a JSON object, got {type(obj).__name__}",
                sf.rel, lineno, line)
            continue
        found, val = _get_field(obj, field)
        if not found:
            keys = ", ".join(list(obj)[:10])
            bad("missing_field", f"{sf.path} line {lineno}: no field {field!r} (fields: {keys or 'none'}); "
                                 f"set sources[].field in the language's YAML", sf.rel, lineno, line)
            continue
        if val is None:
            val = ""
        if not isinstance(val, str):
            bad("bad_field_type", f"{sf.path} line {lineno}: field {field!r} is {type(val).__name__}, not a string",
                sf.rel, lineno, line)
            continue
        yield from _split_text(val, sf.rel, lineno, max_chars)


def _read_parquet(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None,
                  bad: BadInput = _RAISE) -> Iterator[RawDoc]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    field = sf.source.field
    try:
        pf = pq.ParquetFile(sf.path)
        names = pf.schema_arrow.names
    except (pa.ArrowException, OSError, ValueError) as e:
        bad("unreadable_parquet", f"{sf.path}: not a readable Parquet file ({e})", sf.rel, 0)
        return
    if field not in names:
        raise StageError(f"{sf.path}: no column {field!r} (columns: {', '.join(names)}); "
                         f"set sources[].field in the language's YAML")
    typ = pf.schema_arrow.field(field).type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)
            or getattr(pa.types, "is_string_view", lambda t: False)(typ)):
        raise StageError(f"{sf.path}: column {field!r} has type {typ}, expected string")
    # the row groups of the segment [start, end)
    groups, first = [], 0
    for i in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(i).num_rows
        if first >= start and (end is None or end < 0 or first < end):
            groups.append(i)
        first += n
    row = start
    try:
        if not groups:
            return
        batches = pf.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=[field], row_groups=groups)
        for batch in batches:
            for val in batch.column(0).to_pylist():
                yield from _split_text(val or "", sf.rel, row, max_chars)
                row += 1
    except (pa.ArrowException, OSError) as e:
        bad("unreadable_parquet", f"{sf.path}: cannot read Parquet data near row {row} ({e})", sf.rel, row)


def _conllu_sentence_from_tokens(tokens: list[list[str]]) -> str:
    out = []
    skip_until = 0
    for cols in tokens:
        tid = cols[0]
        if "." in tid:          # empty nodes
            continue
        if "-" in tid:          # multiword token: its form, skip the words it covers
            a, _, b = tid.partition("-")
            try:
                skip_until = int(b)
            except ValueError:
                skip_until = 0
        else:
            try:
                if int(tid) <= skip_until:
                    continue
            except ValueError:
                continue
        form = cols[1] if len(cols) > 1 else ""
        misc = cols[9] if len(cols) > 9 else "_"
        out.append(form)
        if "SpaceAfter=No" not in misc.split("|"):
            out.append(" ")
    return "".join(out).strip()


def _read_conllu(sf: SourceFile, max_chars: int, bad: BadInput = _RAISE) -> Iterator[RawDoc]:
    b = _Blocker(sf.rel, max_chars)
    seen_newdoc = False
    n_in_doc = 0
    sent_text: str | None = None
    sent_line = 0
    tokens: list[list[str]] = []

    def finish_sentence(lineno_end: int) -> Iterator[RawDoc]:
        nonlocal sent_text, tokens, n_in_doc, sent_line
        text = sent_text if sent_text is not None else (_conllu_sentence_from_tokens(tokens) if tokens else None)
        if text is not None and text.strip():
            if not seen_newdoc and n_in_doc >= CONLLU_SENTENCES_PER_DOC:
                yield from b.end()
                n_in_doc = 0
            yield from b.add(sent_line or lineno_end, text)
            n_in_doc += 1
        sent_text = None
        tokens = []
        sent_line = 0

    lineno = 0
    for lineno, line, n in _iter_lines(sf.path, max_chars, bad=bad, rel=sf.rel):
        if n >= 0:
            if line.startswith("#"):
                bad("malformed_conllu", f"{sf.path} line {lineno}: comment line of {n} characters is longer than "
                                        f"clean.max_chars ({max_chars})", sf.rel, lineno, line)
                continue
            tokens.append(["_"])  # unreadable token line; keep going
            continue
        s = line.strip()
        if not s:
            yield from finish_sentence(lineno)
            continue
        if s.startswith("#"):
            body = s[1:].strip()
            if body.startswith("newdoc"):
                yield from finish_sentence(lineno)
                seen_newdoc = True
                yield from b.end()
                n_in_doc = 0
            elif body.startswith("text") and body[4:].lstrip().startswith("="):
                sent_text = body[4:].lstrip()[1:].strip()
                sent_line = lineno
            continue
        cols = s.split("\t")
        if len(cols) < 2:
            bad("malformed_conllu", f"{sf.path} line {lineno}: not a CoNLL-U token line (expected 10 "
                                    f"tab-separated columns, got {len(cols)})", sf.rel, lineno, line)
            continue
        if not sent_line:
            sent_line = lineno
        tokens.append(cols)
    yield from finish_sentence(lineno)
    yield from b.end()
