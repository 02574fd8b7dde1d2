"""How lines of a plain-text file become documents (``sources[].documents``), decided from its first lines:

- blank lines between blocks of at most ``LINES_PER_BLOCK`` lines: ``blank_line`` (one document per block);
  so is a whole file of one such block (a folder of one article per file: one document per file);
- otherwise, long lines or lines holding several sentences: ``line`` (one document per line);
- otherwise (one sentence per line, no document boundaries): ``group_chars: GROUP_CHARS``;
- but WikiExtractor's ``<doc ...>`` ... ``</doc>`` articles: ``doc_tags``.

Lines that start with a number and a tab (``ID<TAB>sentence``: the Leipzig Corpora Collection's
``-sentences.txt``) are an identifier column (``line_ids``), left out before the layout is decided.
"""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from pipeline.readers.pieces import SENTENCE_END
from pipeline.readers.text import DOC_LINE_CHARS, GROUP_CHARS, LINES_PER_BLOCK, is_doc_tag

DOC_LINE_SENTENCES = 2.0   # a line with this many sentence ends inside it on average is a document too
ID_LINES = 0.95            # this share of the non-empty lines `NUMBER<TAB>text`: an identifier column
_ID_LINE = re.compile(r"\d+\t[^\t]*\S[^\t]*")


def conll_like(lines: list[str]) -> bool:
    """Token-tag lines (2-4 columns, the last a tag from a small set) in sentences separated by blank lines: a
    CoNLL-style tagged task file, not running text."""
    rows = [ln.split() for ln in lines if ln.strip() and not ln.startswith("#")]
    blanks = sum(1 for ln in lines if not ln.strip())
    return bool(rows) and blanks > 0 and all(2 <= len(r) <= 4 for r in rows) and \
        len({r[-1] for r in rows}) <= 100 and len(rows) > 2 * blanks


def id_column(lines: list[str]) -> bool:
    """Whether the lines are ``NUMBER<TAB>text`` (one tab, a numeric first column), as in Leipzig's corpora."""
    body = [ln.rstrip("\r") for ln in lines if ln.strip()]
    return len(body) >= 10 and sum(1 for ln in body if _ID_LINE.fullmatch(ln)) >= ID_LINES * len(body)


@dataclass
class LineStats:
    lines: int = 0
    blocks: int = 0
    lengths: list[int] = field(default_factory=list)
    inner_ends: int = 0     # sentence ends inside lines (not at their end)
    doc_tags: int = 0       # WikiExtractor's <doc ...> and </doc> lines
    _in_block: bool = False

    def add(self, line: str) -> None:
        s = line.strip()
        if not s or is_doc_tag(s):
            self.doc_tags += bool(s)
            self._in_block = False
            return
        self.lines += 1
        if not self._in_block:
            self.blocks += 1
            self._in_block = True
        if len(self.lengths) < 20_000:
            self.lengths.append(len(s))
            self.inner_ends += sum(1 for m in SENTENCE_END.finditer(s) if m.end() < len(s))

    def decide(self, whole: bool = False) -> tuple[object, str]:
        """(``documents`` setting, the evidence in words); ``whole``: the lines are the whole file."""
        per_block = self.lines / max(1, self.blocks)
        median = statistics.median(self.lengths) if self.lengths else 0
        ends = self.inner_ends / max(1, len(self.lengths))
        seen = (f"{self.lines:,} non-empty lines in {self.blocks:,} blank-line-separated block(s) "
                f"({per_block:,.1f} lines each), median line {median:,.0f} characters, {ends:.1f} sentence ends "
                f"inside a line")
        if self.doc_tags >= 2:
            return "doc_tags", (f"{self.doc_tags // 2:,} <doc ...> ... </doc> articles in the first lines "
                                f"(WikiExtractor's output): one document each, the tag lines left out")
        if self.blocks > 1 and per_block <= LINES_PER_BLOCK:
            return "blank_line", f"{seen}: documents are separated by blank lines"
        if whole and self.blocks == 1 and self.lines <= LINES_PER_BLOCK:
            return "blank_line", (f"the whole file is one block of {self.lines:,} line(s) (median "
                                  f"{median:,.0f} characters): one document (an article or page per file)")
        if median >= DOC_LINE_CHARS or ends >= DOC_LINE_SENTENCES:
            return "line", f"{seen}: each line is a document (paragraph or article)"
        return {"group_chars": GROUP_CHARS}, (f"{seen}: one sentence per line without document boundaries, so "
                                              f"consecutive lines are grouped into documents of up to "
                                              f"{GROUP_CHARS} characters")
