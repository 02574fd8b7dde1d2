"""Streaming readers: every source a language's YAML names, as a stream of raw documents.

``iter_documents(cfg, root)`` walks ``cfg.sources`` (files resolved by ``pipeline.config.resolve_sources``,
in that deterministic order) and yields ``RawDoc``s, one reader module per format (``text``, ``jsonl``,
``parquet``, ``conllu``: each module's docstring says what a document is).

Nothing reads a whole file into memory. A document longer than ``cfg.clean.max_chars`` is split at line
boundaries into pieces of at most ``max_chars`` characters (``RawDoc.split`` is true for each piece). A
single line longer than ``max_chars`` cannot be split: it is yielded on its own with ``overlong`` set
(for text/jsonl/conllu files only its first ``max_chars`` characters are kept in memory; ``n_chars``
holds its full length) so that the clean stage drops it as ``too_long``. Bad input goes to a ``BadInput``
handler (``common.py``).

``plan_file`` splits a file into segments of about ``task_bytes`` bytes for the clean stage's work units;
``iter_file(..., start, end, first_line)`` reads one segment and yields exactly the documents a whole-file
read yields for it.

**Adding a format** is adding one module here that defines ``FORMAT`` (its name in ``sources[].format``),
``SUFFIXES`` (file suffixes ``new-language`` maps to it), ``LINE_BASED`` (sniff for binary files first),
``read(sf, max_chars, start, end, first_line, bad)`` and ``plan(sf, file_index, task_bytes)``; it is found
by its ``FORMAT`` (and the name must be allowed by ``Source.format`` in ``pipeline/config/sections.py``).
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Iterator

from pipeline.config import LanguageConfig
from pipeline.errors import StageError
from pipeline.readers.common import (BAD_KINDS, BINARY_SNIFF_BYTES, RAISE, BadInput, RawDoc, Segment, SourceFile,
                                     file_sha256, sniff_nul, source_files)

__all__ = ["BAD_KINDS", "BINARY_SNIFF_BYTES", "READERS", "BadInput", "RawDoc", "Segment", "SourceFile",
           "file_sha256", "format_of", "iter_documents", "iter_file", "plan_file", "sniff_binary", "source_files"]


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


def format_of(path: Path) -> str:
    """The format a file's suffix suggests (``text`` for any suffix no reader claims)."""
    for name, module in READERS.items():
        if path.suffix in module.SUFFIXES:
            return name
    return "text"


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


def sniff_binary(sf: SourceFile, bad: BadInput) -> bool:
    """True (and reported to ``bad``) when a line-based file has a NUL byte near its start."""
    return _reader(sf).LINE_BASED and sniff_nul(sf, bad)


def plan_file(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    """Cut a file into segments of about ``task_bytes`` (each reader says where it may cut)."""
    return _reader(sf).plan(sf, file_index, task_bytes)
