"""``text`` (.txt, .text; + .gz/.xz/.zst/.bz2): how lines become documents is ``sources[].documents``:

- ``blank_line`` (default): one document per blank-line-separated block of lines;
- ``line``: one document per non-blank line (a dump with one document per line);
- ``group_chars: N``: consecutive lines grouped into documents of at most N characters (sentence-per-line
  text without document boundaries); a blank line also ends one;
- ``doc_tags``: one document per ``<doc id=.. url=.. title=..>`` ... ``</doc>`` article, as WikiExtractor writes
  Wikipedia (its title line first, blank lines inside kept out); the tag lines are not text.

With ``line_ids`` each line's first tab and what precedes it (an identifier: the Leipzig Corpora Collection's
``-sentences.txt`` is ``ID<TAB>sentence``) are left out of the text.

A document longer than ``clean.max_chars`` is cut into pieces that are kept (``RawDoc.split``): at line ends,
and a single over-long line at sentence ends, else whitespace (``pieces.py``); a line too long to hold is
streamed, never read whole. Work-unit segments end at a blank line (``line``: at any line end; ``doc_tags``: after
``</doc>``), so a block never straddles two segments, unless it has none for ``lines.LONG_CUT_BYTES``."""
from __future__ import annotations

from typing import Iterator

from pipeline.readers.common import RAISE, BadInput, RawDoc, Segment, SourceFile
from pipeline.readers.lines import Blocker, iter_lines, plan_at

FORMAT = "text"
SUFFIXES = (".txt", ".text")
LINE_BASED = True                # a NUL byte near the start marks a binary file
# the layout of a file's lines (onboard/layout.py decides ``documents`` from them; the clean stage warns with them)
LINES_PER_BLOCK = 50       # more non-empty lines per blank-line block than this: no document structure
GROUP_CHARS = 2000         # documents grouped from sentence-per-line text
DOC_LINE_CHARS = 400       # a median line this long is a document (a paragraph or an article), not a sentence


def read(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
         bad: BadInput = RAISE) -> Iterator[RawDoc]:
    layout = sf.source.documents
    tags, per_line = layout == "doc_tags", layout == "line"   # (compared once: layout may be a pydantic model)
    b = Blocker(sf.rel, max_chars, getattr(layout, "group_chars", None))
    ids = sf.source.line_ids
    for lineno, text, part in iter_lines(sf.path, max_chars, start, end, first_line, bad, sf.rel,
                                         sf.source.encoding):
        if ids and part <= 0:
            _, tab, rest = text.partition("\t")
            text = rest if tab else text
        if part >= 0:
            yield from b.add_chunk(lineno, text, part)
            continue
        if not text.strip():
            if not tags:
                yield from b.end()
            continue
        if tags and is_doc_tag(text):
            yield from b.end()
            continue
        yield from b.add(lineno, text)
        if per_line:
            yield from b.end()
    yield from b.end()


def is_doc_tag(line: str) -> bool:
    """A WikiExtractor ``<doc id=".." ...>`` or ``</doc>`` line."""
    s = line.strip()
    return s == "</doc>" or (s.startswith("<doc ") and s.endswith(">"))


def plan(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    layout = sf.source.documents
    seps = (b"\n",) if layout == "line" else (b"</doc>\n",) if layout == "doc_tags" else (b"\n\n", b"\n\r\n")
    return plan_at(sf, file_index, task_bytes, seps)


def blocks_warning(rel: str, documents: int, lines: int, chars: int) -> str | None:
    """A warning when a ``blank_line`` file's documents are long runs of sentence-length lines: a sentence-per-line
    file with few or no blank lines, read as a handful of huge documents (each filtered and deduplicated whole)."""
    if not documents or not lines or lines / documents <= LINES_PER_BLOCK or chars / lines >= DOC_LINE_CHARS:
        return None
    return (f"{rel}: {documents:,} document(s) of {lines / documents:,.0f} lines each on average (lines of "
            f"{chars / lines:,.0f} characters): one sentence per line with few or no blank lines between documents, so "
            f"each document is a whole run of the file (up to clean.max_chars) that the quality filters and "
            f"deduplication judge as one. If the file has no document boundaries, give this source "
            f"`documents: {{group_chars: {GROUP_CHARS}}}` (what `foundry new-language` writes for such a file)")
