"""What a source holds, for the comment above its entry: files, characters and documents, read through the
clean stage's own readers (``pipeline.readers``) with the entry's settings, so the counts are what the stage
will read. At most ``FILE_CHARS`` characters are read per file (``TOTAL_CHARS`` in all); the rest is estimated
from the share of the file read (bytes, rows or lines), and the files left once the budget is spent at the
characters and documents per stored byte of the files read whole; the comment says so with a ``~``."""
from __future__ import annotations

import bz2
import gzip
import lzma
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import Source
from pipeline.readers import SourceFile, iter_file
from pipeline.files import Member
from pipeline.readers.common import COMPRESSED, BadInput, open_binary, size_of

FILE_CHARS = 5_000_000
TOTAL_CHARS = 20_000_000
SAMPLE_BYTES = 4 * FILE_CHARS   # decompressed bytes of a line-based file read at most
MAX_CHARS = 100_000             # the scaffold's clean.max_chars
SAMPLE_DOCUMENTS, SAMPLE_DOCUMENT_CHARS = 200, 2000   # kept for language ID of the sources (scaffold)


@dataclass
class Tally:
    files: int = 0
    chars: int = 0
    documents: int = 0
    estimated: bool = False
    char_counts: Counter = field(default_factory=Counter)   # characters of the text read (vocabulary sizing)
    samples: list[str] = field(default_factory=list)        # documents from every file (language ID of the sample)

    def describe(self, unit: str = "file(s)") -> str:
        t = "~" if self.estimated else ""
        return f"{self.files:,} {unit}, {t}{self.chars:,} characters, {t}{self.documents:,} documents"


def _compressed_share(path: Path, nbytes: int) -> float:
    """The share of a compressed file's bytes that hold its first ``nbytes`` decompressed bytes."""
    if isinstance(path, Member):   # a compressed file inside an archive: its decompressed length, counted
        with open_binary(path) as f:
            return min(1.0, nbytes / max(1, sum(len(c) for c in iter(lambda: f.read(1 << 20), b""))))
    size = max(1, path.stat().st_size)
    with open(path, "rb") as raw:
        name = path.name
        if name.endswith(".gz"):
            f = gzip.GzipFile(fileobj=raw)
        elif name.endswith(".xz"):
            f = lzma.LZMAFile(raw)
        elif name.endswith(".bz2"):
            f = bz2.BZ2File(raw)
        else:
            import zstandard

            f = zstandard.ZstdDecompressor().stream_reader(raw)
        left = nbytes
        while left > 0 and (chunk := f.read(min(left, 1 << 20))):
            left -= len(chunk)
        return min(1.0, raw.tell() / size)


def _rows(sf: SourceFile) -> int | None:
    """Rows of a row-based file (from metadata, or batch headers of a memory-mapped Arrow file)."""
    import pyarrow.parquet as pq

    fmt = sf.source.format
    if fmt == "parquet":
        return pq.ParquetFile(sf.path).metadata.num_rows
    if fmt == "arrow":
        from pipeline.readers.arrow import open_batches

        return sum(b.num_rows for b in open_batches(sf.path)[1])
    if fmt == "hf" and sf.path.exists():
        from pipeline.readers.hf import load_folder

        return load_folder(sf.path, sf.source.split).num_rows
    return None


def tally(source: dict, files: list[Path], budget: list[int], rel=lambda p: str(p)) -> Tally:
    """Read ``files`` with the ``sources`` entry's settings; ``budget`` (a one-item list) is the characters left
    to read in all, shared by the sources."""
    src = Source(**{k: v for k, v in source.items() if k != "path"}, path="x")
    t = Tally(files=len(files))
    quota = -(-SAMPLE_DOCUMENTS // max(1, len(files)))   # documents kept per file: the sample spans the files
    unread: list[Path] = []
    whole = [0, 0, 0]          # bytes, characters, documents of the files read to their end
    for path in files:
        if budget[0] <= 0 and whole[0]:   # nothing left to read: estimated below from the files read whole
            unread.append(path)
            continue
        sf = SourceFile(src, path, rel(path))
        line_based = src.format in ("text", "jsonl", "csv", "conllu")
        limit = min(FILE_CHARS, max(0, budget[0]))
        chars = docs = last_row = 0
        complete = True
        end = SAMPLE_BYTES if src.format in ("text", "jsonl") else None
        for doc in iter_file(sf, MAX_CHARS, 0, end, 1, BadInput("skip")):
            chars += len(doc.text)
            docs += 1
            last_row = doc.line
            if t.char_counts.total() < 2_000_000:
                t.char_counts.update(doc.text)
            if len(t.samples) < SAMPLE_DOCUMENTS and docs <= quota:
                t.samples.append(doc.text[:SAMPLE_DOCUMENT_CHARS])
            if chars >= limit:
                complete = False
                break
        budget[0] -= chars
        if not complete and limit < FILE_CHARS and whole[0]:   # cut by the budget: estimated as the unread are
            unread.append(path)
            continue
        share = 1.0
        if not complete or (end and size_of(path) > end and not (isinstance(path, Path) and path.is_dir())):
            t.estimated = True
            share = _share(sf, path, last_row, line_based)
        else:
            for i, n in enumerate((size_of(path), chars, docs)):
                whole[i] += n
        t.chars += int(chars / max(share, 1e-9))
        t.documents += int(docs / max(share, 1e-9))
    if unread:                 # (a folder of many small files: their stored size at the rate of those read)
        t.estimated = True
        size = sum(size_of(p) for p in unread)
        t.chars += int(whole[1] * size / whole[0])
        t.documents += int(whole[2] * size / whole[0])
    for ws in " \t\n\r\u00a0\u3000":
        t.char_counts.pop(ws, None)
    return t


def _share(sf: SourceFile, path: Path, last_row: int, line_based: bool) -> float:
    """The share of a file the sample covered (its last document started at line/row ``last_row``)."""
    if sf.source.format == "jsonl":
        from pipeline.readers.jsonl import array_records, array_start, object_start

        records = sf.source.records     # a JSON array (or an object's): records, not lines (one streamed count)
        if (start := object_start(path) if records else array_start(path)) is not None:
            return min(1.0, last_row / max(1, sum(1 for _ in array_records(path, start, records))))
    if not line_based:
        rows = _rows(sf)
        return min(1.0, (last_row + 1) / rows) if rows else 1.0
    n = 0
    with open_binary(path) as f:   # decompressed bytes up to the sampled line
        for i, line in enumerate(f, 1):
            n += len(line)
            if i >= last_row:
                break
    if path.name.endswith(COMPRESSED):
        return _compressed_share(path, n)
    return min(1.0, n / max(1, size_of(path)))
