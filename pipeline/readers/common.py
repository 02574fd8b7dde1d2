"""What every reader shares: the raw document, the source file, the segment a work unit reads, bad-input handling.

Bad input (invalid UTF-8 or a byte the source's `encoding` lacks, NUL bytes, binary files, truncated gzip, malformed JSONL/CoNLL-U lines, unreadable
Parquet) goes to a ``BadInput`` handler: in ``error`` mode (the default) it raises ``StageError`` naming the file
and line (row for Parquet); in ``skip`` mode (``clean.on_bad_input: skip``) it counts the item by kind, keeps
up to ``BadInput.EXAMPLES`` examples with file and line, and reading goes on with the next line (row, file).
A configuration mismatch (a Parquet column that does not exist or is not a string) is always an error.
"""
from __future__ import annotations

import hashlib
import lzma
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import ConfigError, LanguageConfig, Source, data_root, resolve_sources
from pipeline.errors import StageError
from pipeline.files import (ARCHIVES, COMPRESSED, LINE_FORMATS, READ_CHUNK, Member, is_archive, member_sha256,
                            members, open_binary, selected, size_of)

BINARY_SNIFF_BYTES = 8000          # a NUL byte in the first 8000 bytes: a binary file (git's heuristic)
BAD_KINDS = ("binary_file", "invalid_utf8", "invalid_encoding", "nul_byte", "corrupt_gzip", "malformed_json",
             "missing_field", "bad_field_type", "malformed_conllu", "unreadable_parquet", "malformed_csv")


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


RAISE = BadInput("error")


@dataclass(frozen=True)
class RawDoc:
    text: str
    source: str          # path of the file relative to its root (data root or project)
    line: int            # 1-based line where the document starts; 0-based row index for rows (parquet, ...)
    split: bool = False  # a piece of a document longer than clean.max_chars (pieces are kept)

    @property
    def raw_chars(self) -> int:
        return len(self.text)


@dataclass(frozen=True)
class SourceFile:
    source: Source
    path: Path       # absolute path
    rel: str         # path relative to its root, as recorded in the corpus
    # format tasks only: the language's evaluate.tasks and the project root (pipeline/readers/tasks.py)
    suite: tuple = field(default=(), compare=False)
    root: str = ""


@dataclass
class Segment:
    file: int            # index into the source file list
    start: int = 0       # byte offset in the (decompressed) file, or first row for Parquet
    end: int = -1        # exclusive; -1 = to the end
    line: int = 1        # line number of the first line at ``start``
    size: int = 0        # bytes (or an estimate for Parquet) covered

    def as_dict(self) -> dict:
        return {"file": self.file, "start": self.start, "end": self.end, "line": self.line, "size": self.size}


def source_files(cfg: LanguageConfig, root: Path) -> list[SourceFile]:
    """Every input file, in deterministic order, with the path recorded in the corpus."""
    out = []
    bases = {"project": Path(root).resolve(), "data": data_root(root)}   # params.yaml read once, not per file
    for src, path in resolve_sources(cfg, root):
        base = bases["project" if src.root == "project" else "data"]
        if src.format == "tasks":
            out.append(SourceFile(src, path, str(path), tuple(cfg.evaluate.tasks), str(root)))
            continue
        if src.format == "hf" and not path.is_absolute():   # a hub dataset's name
            out.append(SourceFile(src, path, src.path))
            continue
        try:
            rel = path.resolve().relative_to(base).as_posix()
        except ValueError:
            rel = path.as_posix()
        if is_archive(path) or src.members is not None:
            out.extend(_members(cfg, src, path, rel))
        else:
            out.append(SourceFile(src, path, rel))
    return out


def _members(cfg: LanguageConfig, src: Source, path: Path, rel: str) -> list[SourceFile]:
    """The member files of an archive a source names that the source reads (``pipeline/files.py``)."""
    where = f"corpora/{cfg.language}.yaml: sources[{cfg.sources.index(src)}] ({src.path!r})"
    if not is_archive(path):
        raise ConfigError(f"{where}: {rel} is not an archive ({', '.join(ARCHIVES)}); members applies to archives")
    if src.format not in LINE_FORMATS:
        raise ConfigError(f"{where}: {rel} is an archive; format {src.format} is not read from inside one (formats "
                          f"{', '.join(LINE_FORMATS)} are): extract it and name the files")
    found = [m for m in members(path) if selected(m, src.members)]
    if not found:
        raise ConfigError(f"{where}: archive {rel} holds no file matching members {src.members or '*'!r}")
    return [SourceFile(src, m, f"{rel}/{m.member}") for m in found]


def file_sha256(path: Path) -> str:
    """The file's sha256; for a folder (a ``datasets`` save_to_disk folder) that of its files' names and
    contents; for a name that is no path (a hub dataset) that of the name."""
    if isinstance(path, Member):
        return member_sha256(path)
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(q for q in path.rglob("*") if q.is_file()):
            h.update(f.relative_to(path).as_posix().encode() + b"\0" + file_sha256(f).encode())
        return h.hexdigest()
    if not path.exists():
        h.update(str(path).encode())
        return h.hexdigest()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(READ_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def sniff_nul(sf: SourceFile, bad: BadInput) -> bool:
    """True (and reported to ``bad``) when the file has a NUL byte near its start."""
    try:
        with open_binary(sf.path) as f:
            head = f.read(BINARY_SNIFF_BYTES)
    except (OSError, EOFError, zlib.error, lzma.LZMAError, StageError):
        return False  # reported with its line by the reader
    pos = head.find(b"\x00")
    if pos < 0:
        return False
    line = head[:pos].count(b"\n") + 1
    wide = wide_encoding(head)
    what = f"{wide} text, not UTF-8" if wide else "looks like a binary file"
    bad("binary_file", f"{sf.path} line {line}: {what} (NUL byte at byte {pos}); convert it to UTF-8 text (e.g. "
                       f"iconv -f {wide or 'ENCODING'} -t UTF-8) or remove it from sources", sf.rel, line,
        head[:200].decode("utf-8", errors="replace"))
    return True


def wide_encoding(head: bytes) -> str | None:
    """'UTF-16' or 'UTF-32' when the first bytes are text in that encoding (a byte-order mark, or NUL bytes
    in every other position, as Windows Notepad's "Unicode" writes), else None."""
    if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    half = len(head) // 2
    even, odd = head[0::2].count(0), head[1::2].count(0)   # the high bytes of Latin text: NUL in one parity
    if half >= 4 and max(even, odd) > half / 2 and min(even, odd) < half / 8:
        return "UTF-16"
    return None
