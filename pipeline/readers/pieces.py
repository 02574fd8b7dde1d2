"""Cutting a document longer than ``clean.max_chars`` into pieces that are kept (``RawDoc.split``), never dropped.

A document is cut at line ends into pieces of at most ``max_chars`` characters (consecutive lines packed
greedily); a single line longer than that is cut at a sentence end, else at whitespace, else hard (a run of
``max_chars`` characters with no space, e.g. a base64 blob). A cut is looked for in the second half of the
window first, so no piece is needlessly short. ``LongLine`` does the same for a line streamed in chunks
(a 100 MB line is never held whole).

Why a regular expression rather than a sentence splitter (pysbd, spaCy, NLTK punkt): the cut only needs to
fall between sentences, not to segment every sentence exactly, it must work for any language and script
without a model, and it runs on every over-long line of a corpus. Full stops of Latin, CJK, Devanagari,
Arabic and Ethiopic text are covered; a missed boundary only means a whitespace cut.
"""
from __future__ import annotations

import re
from typing import Iterator

# a sentence end: terminal punctuation (+ closing quotes/brackets) then whitespace; CJK/Indic/Arabic/Ethiopic
# full stops need no space after them
SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*\s+|[。！？।॥؟።][\"'”’»」』)\]]*\s*")
_SPACE = re.compile(r"\s+")


def _cut(window: str, max_chars: int) -> int:
    """Where to end the next piece of ``window`` (longer than ``max_chars``): an index in (0, max_chars]."""
    head = window[: max_chars + 1]   # a boundary may end exactly at max_chars
    half = max_chars // 2
    for rx in (SENTENCE_END, _SPACE):
        ends = [m.end() if rx is SENTENCE_END else m.start() + 1 for m in rx.finditer(head, half)]
        ends = [e for e in ends if 0 < e <= max_chars]
        if ends:
            return ends[-1]
    for rx in (SENTENCE_END, _SPACE):           # only a boundary in the first half: still better than hard
        ends = [e for e in (m.end() for m in rx.finditer(head)) if 0 < e <= max_chars]
        if ends:
            return ends[-1]
    return max_chars


def split_line(line: str, max_chars: int) -> list[str]:
    """One line cut into pieces of at most ``max_chars`` characters (whitespace at a cut is dropped)."""
    pieces: list[str] = []
    rest = line
    while len(rest) > max_chars:
        k = _cut(rest, max_chars)
        piece, rest = rest[:k].rstrip(), rest[k:].lstrip()
        if piece:
            pieces.append(piece)
    if rest.strip():
        pieces.append(rest)
    return pieces


def split_long(text: str, max_chars: int) -> list[str]:
    """A document cut at line ends into pieces of at most ``max_chars`` (over-long lines by ``split_line``)."""
    parts: list[str] = []
    cur: list[str] = []
    size = 0
    for ln in text.split("\n"):
        if len(ln) > max_chars:
            if cur:
                parts.append("\n".join(cur))
                cur, size = [], 0
            parts += split_line(ln, max_chars)
            continue
        if cur and size + 1 + len(ln) > max_chars:
            parts.append("\n".join(cur))
            cur, size = [], 0
        size = len(ln) if not cur else size + 1 + len(ln)
        cur.append(ln)
    if cur:
        parts.append("\n".join(cur))
    return parts


class LongLine:
    """A line too long to hold, fed chunk by chunk: yields its pieces as soon as they are decided."""

    def __init__(self, max_chars: int):
        self.max_chars = max_chars
        self.buf = ""

    def feed(self, chunk: str) -> Iterator[str]:
        self.buf += chunk
        while len(self.buf) > 2 * self.max_chars:   # keep one window of look-ahead for the next cut
            k = _cut(self.buf, self.max_chars)
            piece, self.buf = self.buf[:k].rstrip(), self.buf[k:].lstrip()
            if piece:
                yield piece

    def end(self) -> Iterator[str]:
        buf, self.buf = self.buf, ""
        yield from split_line(buf, self.max_chars)
