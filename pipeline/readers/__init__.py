"""Streaming readers: every source a language's YAML names, as a stream of raw documents.

``iter_documents(cfg, root)`` walks ``cfg.sources`` (files resolved by ``pipeline.config.resolve_sources``,
in that deterministic order) and yields ``RawDoc``s, one reader module per format (``text``, ``jsonl``,
``parquet``, ``arrow``, ``csv`` in ``delimited.py``, ``conllu``, ``hf``: each module's docstring says what a
document is). Line-based files may be compressed (.gz, .xz, .zst, .bz2).

Nothing reads a whole file into memory, and no document is lost to its length: a document longer than
``cfg.clean.max_chars`` is cut into pieces of at most ``max_chars`` characters that are kept (``RawDoc.split``,
counted as ``split_long_document`` in stats.json): at line ends, and a single over-long line at sentence ends,
else at whitespace, else hard (``pieces.py``). A line too long to hold is streamed in chunks and cut as it
comes. How lines of a text file become documents is the source's ``documents`` setting (``text.py``). Bad
input goes to a ``BadInput`` handler (``common.py``).

``plan_file`` splits a file into segments of about ``task_bytes`` bytes for the clean stage's work units;
``iter_file(..., start, end, first_line)`` reads one segment and yields the documents a whole-file read yields
for it (a block with no separator for ``lines.LONG_CUT_BYTES`` may also end where a segment does).
``detect.py`` classifies files for ``foundry new-language``.

**Adding a format** is adding one module here that defines ``FORMAT`` (its name in ``sources[].format``),
``SUFFIXES`` (file suffixes it claims, before any compression suffix), ``LINE_BASED`` (sniff for binary
files first), ``read(sf, max_chars, start, end, first_line, bad)`` and ``plan(sf, file_index, task_bytes)``; it
is found by its ``FORMAT`` (and the name must be allowed by ``Source.format`` in ``pipeline/config/sections.py``).
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Iterator

from pipeline.config import LanguageConfig
from pipeline.errors import StageError
from pipeline.readers.common import (BAD_KINDS, BINARY_SNIFF_BYTES, COMPRESSED, RAISE, BadInput, RawDoc, Segment,
                                     SourceFile, file_sha256, sniff_nul, source_files)

__all__ = ["BAD_KINDS", "BINARY_SNIFF_BYTES", "READERS", "BadInput", "RawDoc", "Segment", "SourceFile",
           "file_sha256", "format_of", "iter_documents", "iter_file", "plan_file", "sniff_binary", "source_files",
           "source_sha256"]


def _discover() -> dict[str, ModuleType]:
    """Format name -> reader module: every module of this package that defines ``FORMAT``."""
    out = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if getattr(module, "FORMAT", None):
            out[module.FORMAT] = module
    return out


READERS = _discover()


def _reader(sf: SourceFile) -> ModuleType:
    try:
        return READERS[sf.source.format]
    except KeyError:  # pragma: no cover (the schema forbids it)
        raise StageError(f"{sf.path}: unknown source format {sf.source.format!r}") from None


def format_of(path: Path) -> str | None:
    """The format a file's suffix claims (a compression suffix looked through); None for any other suffix."""
    name = path.name.lower()
    for z in COMPRESSED:
        name = name.removesuffix(z)
    suffix = Path(name).suffix
    for fmt, module in READERS.items():
        if suffix in module.SUFFIXES:
            return fmt
    return None


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
    return _reader(sf).read(sf, max_chars, start, end, first_line, bad or RAISE)


def source_sha256(sf: SourceFile) -> str:
    """The sha256 of what a source file feeds the corpus: the file's (a reader may define its own)."""
    own = getattr(_reader(sf), "sha256", None)
    return own(sf) if own else file_sha256(sf.path)


def sniff_binary(sf: SourceFile, bad: BadInput) -> bool:
    """True (and reported to ``bad``) when a line-based file has a NUL byte near its start."""
    return _reader(sf).LINE_BASED and sniff_nul(sf, bad)


def plan_file(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    """Cut a file into segments of about ``task_bytes`` (each reader says where it may cut)."""
    return _reader(sf).plan(sf, file_index, task_bytes)
